"""Every classifier config keeps the checkpoint of its best validation top-1, as the
authors report the best epoch (CIFAR/train.py best_acc, ImageNet/*/main.py best_acc1):
a real run whose validation accuracy goes down, up and down keeps the middle epoch."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from PIL import Image

import mmcds  # noqa: F401

CONFIG = 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py'
CLASSIFIERS = sorted(
    path for path in glob.glob('configs/**/*.py', recursive=True)
    if '_base_' not in path and Config.fromfile(path).get('default_scope') != 'mmdet')


@pytest.mark.parametrize('config', CLASSIFIERS)
def test_config_builds_a_best_top1_checkpoint_hook(config):
    cfg = Config.fromfile(config)
    hook = HOOKS.build(cfg.default_hooks.checkpoint)
    assert isinstance(hook, CheckpointHook)
    assert hook.key_indicators == ['accuracy/top1'] and hook.rules == ['greater']
    # the metric it reads is one the config's validation computes
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) else \
        [cfg.val_evaluator]
    assert 'Accuracy' in [e['type'] for e in evaluators]
    # previous behaviour: no best checkpoint
    cfg.merge_from_dict({'default_hooks.checkpoint.save_best': None})
    assert HOOKS.build(cfg.default_hooks.checkpoint).save_best is None


def class_folders(root, counts):
    """32x32 JPEGs in ``root/<class>/``, ``counts[c]`` images for class c."""
    rng = np.random.default_rng(0)
    for c, count in enumerate(counts):
        os.makedirs(root / f'class{c}')
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                root / f'class{c}' / f'{i}.jpg')


class PredictOneClass(Hook):
    """Before each validation, bias the head so that everything is predicted as
    ``favoured[epoch]``: the validation top-1 is then that class's share of the
    validation set, whatever training did. Keeps a copy of the weights each
    validation scored."""

    def __init__(self, favoured):
        self.favoured = favoured
        self.validated = {}

    def before_val_epoch(self, runner):
        bias = runner.model.head.fc.bias
        with torch.no_grad():
            bias.zero_()
            bias[self.favoured[runner.epoch]] = 1e4

    def after_val_epoch(self, runner, metrics=None):
        self.validated[runner.epoch] = {
            k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def test_the_checkpoint_kept_is_the_best_epoch_s(tmp_path):
    class_folders(tmp_path / 'data' / 'train', [1] * 10)
    class_folders(tmp_path / 'data' / 'test', [4] + [1] * 9)  # class 0: 4 of 13
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'train_dataloader.dataset.data_root': str(tmp_path / 'data'),
        'val_dataloader.dataset.data_root': str(tmp_path / 'data'),
        'train_dataloader.batch_size': 10, 'val_dataloader.batch_size': 13,
        'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1, 'default_hooks.logger.interval': 1,
    })
    runner = Runner.from_cfg(cfg)
    # epochs 1, 2, 3: top-1 1/13, 4/13, 1/13
    rig = PredictOneClass({1: 1, 2: 0, 3: 1})
    runner.register_hook(rig)
    runner.train()

    work = tmp_path / 'work'
    best = sorted(osp.basename(p) for p in glob.glob(str(work / 'best_*.pth')))
    assert best == ['best_accuracy_top1_epoch_2.pth']
    assert runner.message_hub.get_info('best_score') == pytest.approx(400 / 13)
    kept = torch.load(work / best[0], map_location='cpu', weights_only=False)
    assert kept['meta']['epoch'] == 2
    # the weights epoch 2's validation scored, not the final ones
    assert kept['state_dict'].keys() == rig.validated[2].keys()
    assert all(torch.equal(v, rig.validated[2][k]) for k, v in kept['state_dict'].items())
    assert not torch.equal(rig.validated[3]['head.fc.bias'],
                           kept['state_dict']['head.fc.bias'])
