"""Real training runs on the CIFAR-10 JPEGs, through the user-facing tools."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import REPO_ROOT, dist_train_on_cpu

TINY_CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'


def run_tool(*args, timeout=600):
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def test_cds_loss_goes_down_on_cifar10(tmp_path, cifar10_root):
    cfg = Config.fromfile(TINY_CDS)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path),
        'train_dataloader.dataset.data_root': cifar10_root,
        # 64 images, batch 16: 4 iterations an epoch, the same images each epoch
        'train_dataloader.dataset.indices': 64,
        'train_dataloader.batch_size': 16,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 6,
        'train_cfg.val_interval': 100,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 100,
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    history = {key: runner.message_hub.get_scalar(f'train/{key}').data[0]
               for key in ('loss', 'loss_cds_stage1', 'loss_cds_stage4')}
    for key, values in history.items():
        assert len(values) == 24, key
        first, last = values[:4].mean(), values[-4:].mean()
        assert last < first, f'{key}: first epoch {first:.4f}, last epoch {last:.4f}'


def test_train_checkpoint_resume_and_test_tools(tmp_path, cifar10_root):
    work_dir = str(tmp_path / 'work')
    common = [
        f'train_dataloader.dataset.data_root={cifar10_root}',
        f'val_dataloader.dataset.data_root={cifar10_root}',
        'train_dataloader.dataset.indices=32', 'train_dataloader.batch_size=16',
        'val_dataloader.dataset.indices=32', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'default_hooks.checkpoint.interval=1',
        'train_cfg.val_interval=1',
    ]
    out = run_tool('tools/train.py', TINY_CDS, '--work-dir', work_dir,
                   '--no-persistent-workers', '--cfg-options', 'train_cfg.max_epochs=1',
                   *common)
    for key in ('loss_cds_stage1', 'loss_cds_stage4', 'accuracy/top1'):
        assert key in out, key
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))

    out = run_tool('tools/train.py', TINY_CDS, '--work-dir', work_dir, '--resume',
                   '--no-persistent-workers', '--cfg-options', 'train_cfg.max_epochs=2',
                   *common)
    assert 'resumed epoch: 1' in out, out[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))

    out = run_tool('tools/test.py', TINY_CDS, osp.join(work_dir, 'epoch_2.pth'),
                   '--work-dir', work_dir, '--cfg-options',
                   f'test_dataloader.dataset.data_root={cifar10_root}',
                   'test_dataloader.dataset.indices=32', 'test_dataloader.num_workers=0')
    assert 'accuracy/top1' in out and 'accuracy/top5' in out


def test_imagenet_config_on_an_imagenet_style_folder(tmp_path, cifar10_root):
    """configs/cds/resnet18_8xb32_in1k.py at 224 px on class folders of JPEGs."""
    config = tmp_path / 'cds_r18_folder.py'
    config.write_text(f"""
_base_ = '{REPO_ROOT}/configs/cds/resnet18_8xb32_in1k.py'
model = dict(head=dict(num_classes=10))
data_preprocessor = dict(num_classes=10)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{cifar10_root}', data_prefix='train',
    indices=8, pipeline=_base_.train_pipeline))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{cifar10_root}', data_prefix='test',
    indices=8, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
""")
    work_dir = str(tmp_path / 'work')
    out = run_tool('tools/train.py', str(config), '--work-dir', work_dir)
    for key in ('loss_cds_stage1', 'loss_cds_stage2', 'loss_cds_stage3',
                'loss_cds_stage4', 'accuracy/top1', 'accuracy/top5'):
        assert key in out, key
    out = run_tool('tools/test.py', str(config), osp.join(work_dir, 'epoch_1.pth'),
                   '--work-dir', work_dir)
    assert 'accuracy/top1' in out and 'accuracy/top5' in out


def test_dist_train_sh_runs_two_cpu_processes(tmp_path, cifar10_root):
    if torch.cuda.is_available():
        pytest.skip('checks the gloo fallback of machines without CUDA')
    work_dir = str(tmp_path / 'dist')
    output = dist_train_on_cpu(
        TINY_CDS, work_dir, f'train_dataloader.dataset.data_root={cifar10_root}',
        f'val_dataloader.dataset.data_root={cifar10_root}',
        'train_dataloader.dataset.indices=32', 'train_dataloader.batch_size=8',
        'val_dataloader.dataset.indices=16', 'train_cfg.max_epochs=1',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'model.cds_loss.gather_distributed=True')
    # 32 images over 2 ranks of batch 8: 2 iterations per rank
    assert 'Epoch(train) [1][2/2]' in output and 'Epoch(train) [1][3/' not in output
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
