"""mmpretrain's analysis tools on our configs and checkpoints (issue #16, 4), through the
wrappers in tools/analysis_tools/ and tools/visualization/."""
import glob
import os.path as osp
import re

import mmengine
import numpy as np
import pytest
import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.apis import get_model

import mmcds  # noqa: F401
from conftest import REPO_ROOT
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool, tsne_taking_n_iter

CIFAR = 'configs/{}/resnet18-w16_1xb64_cifar10-jpg.py'
# 4 training images of each of the first 4 classes, 3 test images of each of 3 classes
TRAIN_INDICES = [c * 1000 + i for c in range(4) for i in range(4)]
TEST_INDICES = [c * 1000 + i for c in range(3) for i in range(3)]


def inference_flops(model, size: int) -> int:
    """FLOPs of what inference runs (extract_feat, as mmpretrain's get_flops counts)."""
    model.eval()
    model.forward = model.extract_feat
    return get_model_complexity_info(model, (3, size, size), show_table=False,
                                     show_arch=False)['flops']


@pytest.mark.parametrize('method', ['cds', 'dsn', 'dks', 'dhm', 'selfcon'])
def test_flops_at_inference_are_the_plain_resnets(method):
    plain = inference_flops(get_model(CIFAR.format('ce')), 32)
    assert inference_flops(get_model(CIFAR.format(method)), 32) == plain
    assert 30e6 < plain < 40e6  # a ResNet-18 of width 16 on 32x32: ~35 MFLOPs


def test_imagenet_cds_flops_equal_mmpretrains_resnet18():
    ours = inference_flops(get_model('configs/cds/resnet18_8xb32_in1k.py'), 224)
    # mmpretrain's own model of that name (its configs/resnet/resnet18_8xb32_in1k.py)
    theirs = inference_flops(get_model('resnet18_8xb32_in1k'), 224)
    assert ours == theirs
    # mmpretrain's metafile lists 1.82 GFLOPs for resnet18_8xb32_in1k
    assert ours == pytest.approx(1.82e9, rel=0.01)


def test_get_flops_tool(capsys):
    printed = {}
    for method in ('cds', 'ce'):
        run_mmpretrain_tool('analysis_tools/get_flops.py',
                            [CIFAR.format(method), '--shape', '32'])
        out = capsys.readouterr().out
        printed[method] = re.search(r'Flops: (\S+)', out).group(1)
    assert printed['cds'] == printed['ce'] == '35.355M'


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    """Two epochs of the tiny CDS config: a checkpoint and the JSON log."""
    from conftest import shared_data
    root = shared_data('cifar10')
    work_dir = tmp_path_factory.mktemp('cds_run')
    cfg = Config.fromfile(osp.join(REPO_ROOT, CIFAR.format('cds')))
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.dataset.indices': TRAIN_INDICES,
        'train_dataloader.batch_size': 8, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 2, 'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 2,
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = glob.glob(osp.join(runner.log_dir, 'vis_data', '2*.json'))[0]
    return dict(root=root, checkpoint=str(work_dir / 'epoch_2.pth'), log=log)


def data_options(trained_run):
    return [f'test_dataloader.dataset.data_root={trained_run["root"]}',
            'test_dataloader.dataset.indices=' + ','.join(map(str, TEST_INDICES)),
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def test_analyze_logs_plots_the_stage_losses(trained_run, tmp_path, capsys):
    keys = ['loss'] + [f'loss_cds_stage{k}' for k in range(1, 5)]
    out = tmp_path / 'losses.png'
    run_mmpretrain_tool('analysis_tools/analyze_logs.py',
                        ['plot_curve', trained_run['log'], '--keys', *keys,
                         '--out', str(out)])
    assert out.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert all(f'metric is {key}' in printed for key in keys)
    run_mmpretrain_tool('analysis_tools/analyze_logs.py',
                        ['cal_train_time', trained_run['log']])
    assert 'average iter time' in capsys.readouterr().out


def test_confusion_matrix_of_a_checkpoint(trained_run, tmp_path):
    out = tmp_path / 'cm.pkl'
    run_mmpretrain_tool('analysis_tools/confusion_matrix.py', [
        CIFAR.format('cds'), trained_run['checkpoint'], '--out', str(out),
        '--show-path', str(tmp_path / 'cm.png'), '--cfg-options',
        *data_options(trained_run)])
    matrix = torch.as_tensor(mmengine.load(str(out)))
    assert matrix.shape == (10, 10)
    # rows are the true classes: 3 test images of each of the first 3
    assert matrix.sum(1).tolist() == [3, 3, 3] + [0] * 7
    assert (tmp_path / 'cm.png').stat().st_size > 10_000


def test_tsne_of_every_backbone_stage(trained_run, tmp_path):
    with tsne_taking_n_iter():
        run_mmpretrain_tool('visualization/vis_tsne.py', [
            CIFAR.format('cds'), '--checkpoint', trained_run['checkpoint'],
            '--work-dir', str(tmp_path), '--vis-stage', 'backbone',
            '--perplexity', '3', '--n-iter', '250', '--cfg-options',
            *data_options(trained_run)])
    out_dir, = glob.glob(str(tmp_path / 'tsne_*'))
    for stage, channels in enumerate((16, 32, 64, 128)):
        features = np.load(osp.join(out_dir, f'feat_{stage}.npy'))
        assert features.shape == (len(TEST_INDICES), channels)
        assert osp.getsize(osp.join(out_dir, f'feat_{stage}.png')) > 10_000
