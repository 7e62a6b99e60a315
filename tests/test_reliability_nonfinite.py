"""Reliability (issue #15, item 2): a non-finite loss stops training at once, before
the optimizer step, and no checkpoint with non-finite weights is written or marked
last; the skip option; the calibration metric names non-finite scores."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import TRANSFORMS

import mmcds  # noqa: F401
from test_reliability import TINY_CDS, TINY_CE, spread_indices, tiny_runner_cfg


@TRANSFORMS.register_module(name='_NaNImageForTest', force=True)
class NaNImage:
    """Turns the image of sample ``index`` into NaN (all images into float32, so that
    default_collate stacks one dtype): a sample whose loss is non-finite."""

    def __init__(self, index):
        self.index = index

    def __call__(self, results):
        results['img'] = results['img'].astype(np.float32)
        if int(results['sample_idx']) == self.index:
            results['img'][:] = np.nan
        return results


def nan_sample_cfg(config, work_dir, cifar10_root, multi_view, **options):
    """20 images in order, batch 4: sample 5 is in the second batch."""
    cfg = tiny_runner_cfg(config, work_dir, cifar10_root, **{
        'train_dataloader.dataset.indices': spread_indices(2),
        'train_dataloader.sampler.shuffle': False, **options})
    views = [dict(type='MultiView', num_views=[1, 1], transforms=[
        [], [dict(type='RandomFlip', prob=1., direction='horizontal')]])]
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='_NaNImageForTest', index=5),
        *(views if multi_view else []), dict(type='PackInputs')]
    return cfg


def finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def test_non_finite_loss_term_stops_before_the_optimizer_step(tmp_path, cifar10_root):
    cfg = nan_sample_cfg(TINY_CDS, tmp_path, cifar10_root, multi_view=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=1)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError) as error:
        runner.train()
    message = str(error.value)
    assert '\n' not in message
    assert message.startswith(
        'NonFiniteLossHook: non-finite loss at iteration 2 (epoch 1, batch 2/5), lr '
        '0.05: loss = nan, loss_cds_stage1 = nan, loss_cds_stage2 = nan, '
        'loss_cds_stage3 = nan, loss_cds_stage4 = nan;'), message
    assert 'before the optimizer step' in message
    assert f"--resume picks {osp.join(tmp_path, 'iter_1.pth')}." in message
    # the step did not happen: the parameters are still finite, and no checkpoint
    # of iteration 2 exists
    assert finite(runner.model.parameters())
    assert not osp.exists(osp.join(tmp_path, 'iter_2.pth'))


def test_diverging_lr_stops_at_once_and_never_checkpoints_nan(tmp_path, cifar10_root):
    """A learning rate of 1000 on the tiny CDS model: the loss grows to ~1e7, then
    batch-norm statistics overflow at iteration 7."""
    cfg = tiny_runner_cfg(TINY_CDS, tmp_path, cifar10_root, **{
        'train_dataloader.dataset.indices': spread_indices(2),
        'optim_wrapper.optimizer.lr': 1000.,
        'train_cfg.max_epochs': 4,
    })
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=1, max_keep_ckpts=1)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError) as error:
        runner.train()
    message = str(error.value)
    assert '\n' not in message and message.startswith('NonFiniteLossHook: ')
    lr = runner.optim_wrapper.get_lr()['lr'][0]
    where = f'at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch '
    assert where in message
    assert f'lr {lr:.6g}' in message
    assert runner.iter >= 2, 'diverged at once: nothing was checkpointed before'
    # every checkpoint on disk is finite, and --resume picks one of them
    with open(osp.join(tmp_path, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert osp.isfile(last) and f'--resume picks {last}' in message
    assert last.endswith(f'iter_{runner.iter}.pth')
    for name in os.listdir(tmp_path):
        if name.endswith('.pth'):
            state = torch.load(osp.join(tmp_path, name), map_location='cpu')
            assert finite(state['state_dict'].values()), name


def test_skip_steps_skips_a_nan_batch_and_keeps_weights_and_bn_finite(
        tmp_path, cifar10_root):
    """With skip_steps the NaN batch is skipped: the run finishes, counts the skip
    in the log, and saves finite weights (batch-norm statistics restored)."""
    cfg = nan_sample_cfg(TINY_CE, tmp_path, cifar10_root, multi_view=False)
    cfg.custom_hooks[0] = dict(type='NonFiniteLossHook', skip_steps=True)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()  # 5 iterations; the second holds sample 5
    hook = next(h for h in runner.hooks if type(h).__name__ == 'NonFiniteLossHook')
    assert hook.num_skipped == 1
    state = torch.load(osp.join(tmp_path, 'epoch_1.pth'), map_location='cpu')
    assert finite(state['state_dict'].values())
    log_files = glob.glob(osp.join(tmp_path, '*', '*.log'))
    assert len(log_files) == 1
    with open(log_files[0]) as f:
        log = f.read()
    assert log.count('NonFiniteLossHook: skipped the optimizer step of iteration 2 '
                     '(epoch 1, batch 2/5)') == 1
    assert 'Epoch(train) [1][5/5]' in log and 'nonfinite_skipped: 1' in log


def test_calibration_metric_names_non_finite_scores():
    from mmpretrain.structures import DataSample

    from mmcds.evaluation import ExpectedCalibrationError, calibration_bins
    metric = ExpectedCalibrationError()
    sample = DataSample().set_gt_label(1).set_pred_score(
        torch.tensor([float('nan'), 0.5]))
    sample.set_metainfo(dict(img_path='x/cat/1.jpg'))
    with pytest.raises(ValueError, match=r'non-finite scores.*x/cat/1\.jpg'):
        metric.process(None, [sample.to_dict()])
    with pytest.raises(ValueError, match='not finite'):
        calibration_bins([float('nan'), 0.2], [1, 0])
    with pytest.raises(ValueError, match='not finite'):
        calibration_bins([float('inf'), 0.2], [1, 0])
