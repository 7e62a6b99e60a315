"""The command-line paths users run, one subprocess per CLI that matters: dist_train.sh
(two CPU processes) and tools/test.py under --amp through to the reliability diagram,
tools/test.py's --tta / --out-item metrics / --show-dir, and dist_test.sh on two CPU
processes."""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import mmengine
import pytest
import torch
from mmengine.runner import Runner

from conftest import (REPO_ROOT, assert_distributed_on_gloo, dist_train_on_cpu,
                      free_port, load_tool)
from mmcds.evaluation import calibration_bins
from mmcds.evaluation.reliability import confidences_from_predictions
from mmcds.experiments import spread_indices

TINY_CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'


def run(*args, env=None, timeout=600):
    result = subprocess.run(list(args), cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=timeout, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def data_options(root, split, loader, size):
    """--cfg-options that point ``loader`` at ``size`` images of every class."""
    indices = spread_indices(10000, size)
    return [f'{loader}.dataset.data_root={root}', f'{loader}.dataset.data_prefix={split}',
            f'{loader}.dataset.indices={indices}'.replace(' ', ''),
            f'{loader}.num_workers=0']


@pytest.fixture(scope='module')
def amp_dist_train(tmp_path_factory, cifar10_root_module):
    """tools/dist_train.sh CONFIG 2 --amp --no-validate: the tiny CDS model on two gloo
    processes (bfloat16 autocast on the CPU), 32 training images of every class, the
    stage losses gathered over the ranks. Its work dir and output."""
    work_dir = str(tmp_path_factory.mktemp('amp'))
    output = dist_train_on_cpu(
        TINY_CDS, work_dir, '--amp', '--no-validate', '--cfg-options',
        *data_options(cifar10_root_module, 'train', 'train_dataloader', 32),
        'train_dataloader.batch_size=8', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1', 'model.cds_loss.gather_distributed=True')
    return work_dir, output


@pytest.fixture(scope='module')
def amp_checkpoint(amp_dist_train):
    return osp.join(amp_dist_train[0], 'epoch_1.pth')


def test_dist_train_sh_with_amp_on_two_cpu_processes(amp_dist_train):
    work_dir, output = amp_dist_train
    # 32 images over 2 ranks of batch 8: 2 iterations per rank
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\]', output), output[-2000:]
    assert 'Epoch(train) [1][3/' not in output
    assert 'loss_cds_stage4' in output
    assert 'Epoch(val)' not in output  # --no-validate
    dumped_cfg = mmengine.Config.fromfile(osp.join(work_dir, osp.basename(TINY_CDS)))
    assert dumped_cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert dumped_cfg.val_dataloader is None and dumped_cfg.val_cfg is None
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


@pytest.fixture(scope='module')
def cifar10_root_module():
    from conftest import shared_data
    return shared_data('cifar10')


def test_amp_test_dump_feeds_the_reliability_cli(amp_checkpoint, cifar10_root_module,
                                                 tmp_path):
    preds = str(tmp_path / 'preds.pkl')
    # CUDA hidden: --amp on the CPU (bfloat16) is the path under test on any machine.
    out = run(sys.executable, 'tools/test.py', TINY_CDS, amp_checkpoint, '--amp',
              '--out', preds, '--show-dir', str(tmp_path / 'vis'), '--work-dir',
              str(tmp_path), '--cfg-options',
              *data_options(cifar10_root_module, 'test', 'test_dataloader', 40),
              env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))
    # --show-dir: a picture per test image, named by mmpretrain's VisualizationHook
    # after the image's file name (so same-named images of two classes share one).
    names = {osp.basename(d['img_path']) for d in mmengine.load(preds)}
    pictures = glob.glob(str(tmp_path / 'vis' / '*.png'))
    assert sorted(osp.basename(p) for p in pictures) == sorted(f'{n}_0.png' for n in names)
    logged_ece = float(re.search(r'calibration/ECE: ([0-9.]+)', out).group(1))
    dumped = mmengine.load(preds)
    assert len(dumped) == 40 and len({d['gt_label'].item() for d in dumped}) == 10
    # What --amp on the CPU dumps: bfloat16 scores, which numpy cannot read.
    assert dumped[0]['pred_score'].dtype == torch.bfloat16

    confidences, correct = confidences_from_predictions(dumped)
    stats = calibration_bins(confidences, correct, num_bins=15)
    # mmengine logs 4 decimals of the metric (in %).
    assert 100 * stats['ece'] == pytest.approx(logged_ece, abs=1e-4)
    # (Top-1 is not compared: a 2-iteration model's bfloat16 scores tie, and
    # Accuracy's topk breaks ties in another order than an arg-max.)

    tool = load_tool('analysis_tools/reliability_diagram')
    png = tmp_path / 'rel.png'
    tool.main([preds, '--out', str(png)])
    assert png.read_bytes()[:4] == b'\x89PNG'


def test_tta_and_metrics_dump(amp_checkpoint, cifar10_root_module, tmp_path,
                              monkeypatch):
    """tools/test.py --tta --out-item metrics, run as its main() in this process (the
    test above runs tools/test.py as a subprocess)."""
    metrics_file = str(tmp_path / 'metrics.pkl')
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', TINY_CDS, amp_checkpoint, '--tta', '--out', metrics_file,
        '--out-item', 'metrics', '--work-dir', str(tmp_path), '--cfg-options',
        *data_options(cifar10_root_module, 'test', 'test_dataloader', 8)])
    load_tool('test').main()
    out = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    metrics = mmengine.load(metrics_file)
    assert set(metrics) >= {'accuracy/top1', 'calibration/ECE'}
    assert metrics['accuracy/top1'] == pytest.approx(
        float(re.search(r'accuracy/top1: ([0-9.]+)', out).group(1)), abs=1e-4)
    # The flip TTA wraps the model.
    dumped_cfg = mmengine.Config.fromfile(str(tmp_path / osp.basename(TINY_CDS)))
    assert dumped_cfg.model.type == 'mmpretrain.AverageClsScoreTTA'


def test_tta_with_show_dir_is_refused_before_testing():
    tool = load_tool('test')
    args = argparse.Namespace(
        launcher='none', work_dir='unused', checkpoint=TINY_CDS, amp=False, show=False,
        show_dir='vis', tta=True, config=TINY_CDS, no_pin_memory=False,
        cfg_options=None, wait_time=0, interval=1)
    with pytest.raises(ValueError, match='--tta cannot be combined with --show'):
        tool.merge_args(mmengine.Config.fromfile(TINY_CDS), args)


def test_dist_test_sh_on_two_cpu_processes(amp_checkpoint, cifar10_root_module,
                                           tmp_path):
    if torch.cuda.is_available():
        pytest.skip('checks the gloo fallback of machines without CUDA')
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable)
    out = run('bash', 'tools/dist_test.sh', TINY_CDS, amp_checkpoint, '2',
              '--work-dir', str(tmp_path), '--cfg-options',
              *data_options(cifar10_root_module, 'test', 'test_dataloader', 20),
              env=env)
    assert_distributed_on_gloo(out)
    # Both ranks' predictions are gathered: the metrics equal one process's on the
    # same 20 images.
    cfg = mmengine.Config.fromfile(TINY_CDS)
    cfg.merge_from_dict(dict(
        opt.split('=', 1) for opt in
        data_options(cifar10_root_module, 'test', 'test_dataloader', 20)))
    cfg.test_dataloader.dataset.indices = spread_indices(10000, 20)
    cfg.test_dataloader.num_workers = 0
    cfg.work_dir, cfg.load_from = str(tmp_path / 'single'), amp_checkpoint
    single = Runner.from_cfg(cfg).test()
    for key in ('accuracy/top1', 'calibration/ECE'):
        logged = float(re.search(key + r': ([0-9.]+)', out).group(1))
        assert logged == pytest.approx(single[key], abs=1e-4), key
