"""Reliability (issue #15, item 1): multi-view batches are paired right under the
collate functions mmengine really uses, through ``Runner.from_cfg`` too; shared helpers
of the tests/test_reliability_*.py files.

The reliability hooks and sampler are the ones the configs' bases list
(docs/troubleshooting.md): the tests run them as the shipped configs build them, so a hook
taken out of a base fails the test of what it does.
"""
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

import mmcds  # noqa: F401

TINY_CE = 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py'
TINY_CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'
CDS_IN1K = 'configs/cds/resnet18_8xb32_in1k.py'
CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
           'ship', 'truck')
# Two deterministic views, so a test can tell which file each image came from:
# view 1 the image as stored (CIFAR JPEGs are 32x32 already), view 2 mirrored.
TWO_KNOWN_VIEWS = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[[dict(type='Resize', scale=(32, 32))],
                     [dict(type='Resize', scale=(32, 32)),
                      dict(type='RandomFlip', prob=1., direction='horizontal')]]),
    dict(type='PackInputs'),
]


def spread_indices(per_class: int, class_size: int = 1000, num_classes: int = 10):
    """Indices of a sorted class-folder set that take ``per_class`` images from each
    class."""
    return [c * class_size + i for c in range(num_classes) for i in range(per_class)]


def class_folder_copy(cifar10_root, root, per_class=2, classes=CLASSES,
                      splits=('train', 'test')):
    """A small class-folder set (real CIFAR-10 JPEGs) under ``root``."""
    for split in splits:
        for name in classes:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
            source = osp.join(cifar10_root, split, name)
            for file in sorted(os.listdir(source))[:per_class]:
                shutil.copy(osp.join(source, file), osp.join(root, split, name, file))
    return str(root)


def tiny_runner_cfg(config, work_dir, data_root, **options):
    """``config`` on ``data_root`` for a few CPU iterations, with its own hooks and
    sampler, no validation and no checkpoints unless asked for."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 4,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
    })
    cfg.default_hooks.checkpoint = None
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.merge_from_dict(options)
    return cfg


def record_loss_inputs(runner):
    """Wrap ``runner.model.loss`` to keep what reaches the loss: the views and the
    data samples."""
    calls = []
    model = runner.model
    original = model.loss

    def loss(inputs, data_samples):
        calls.append(([v.detach().clone() for v in inputs], list(data_samples)))
        return original(inputs, data_samples)

    model.loss = loss
    return calls


def expected_view(path, preprocessor, flip=False):
    """The preprocessed image of ``path``: BGR file -> RGB, normalised, optionally
    mirrored (view 2)."""
    img = mmcv.imread(path)
    if flip:
        img = mmcv.imflip(img, 'horizontal')
    tensor = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).flip(0)
    return (tensor.float() - preprocessor.mean.cpu()) / preprocessor.std.cpu()


def assert_views_belong_to_samples(views, data_samples, preprocessor):
    """Image i of every view batch is image i's file, and its label is its class."""
    assert len(views) == 2
    assert all(view.shape[0] == len(data_samples) for view in views)
    for i, sample in enumerate(data_samples):
        path = sample.img_path
        assert int(sample.gt_label) == CLASSES.index(osp.basename(osp.dirname(path)))
        assert torch.allclose(views[0][i], expected_view(path, preprocessor)), path
        mirrored = expected_view(path, preprocessor, flip=True)
        assert torch.allclose(views[1][i], mirrored), path


# ------------------------------------------------------------ multi-view batches
@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
@pytest.mark.parametrize('batch_size', [2, 3])
def test_preprocessor_pairs_views_and_labels_under_real_collate(
        cifar10_root, collate, batch_size):
    dataset = DATASETS.build(dict(
        type='CustomDataset', data_root=cifar10_root, data_prefix='train',
        indices=spread_indices(1), pipeline=TWO_KNOWN_VIEWS))
    preprocessor = MODELS.build(dict(
        type='MultiViewClsDataPreprocessor', num_classes=10,
        mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255], to_rgb=True))
    # samples of different classes in every batch: 0, 3, 7 (, ...)
    batch = collate([dataset[i] for i in (0, 3, 7, 9)[:batch_size]])
    if collate is pseudo_collate:
        # what mmengine really hands over: V sequences of N images
        assert len(batch['inputs']) == 2 and len(batch['inputs'][0]) == batch_size
    out = preprocessor(batch, training=True)
    assert_views_belong_to_samples(out['inputs'], out['data_samples'], preprocessor)

    # a hand-built "N samples of V views" batch is no layout a collate makes: refused
    # where N != V (it is not transposed on a guess, which cannot tell N == V apart)
    if collate is pseudo_collate and batch_size == 3:
        per_sample = [list(images) for images in zip(*batch['inputs'])]
        with pytest.raises(ValueError, match='not N samples of V views'):
            preprocessor(dict(inputs=per_sample, data_samples=batch['data_samples']),
                         training=True)


def test_preprocessor_refuses_views_that_do_not_match_the_samples(cifar10_root):
    dataset = DATASETS.build(dict(
        type='CustomDataset', data_root=cifar10_root, data_prefix='train',
        indices=spread_indices(1), pipeline=TWO_KNOWN_VIEWS))
    preprocessor = MODELS.build(dict(type='MultiViewClsDataPreprocessor'))
    batch = pseudo_collate([dataset[i] for i in (0, 3, 7)])
    short = dict(inputs=[batch['inputs'][0], batch['inputs'][1][:2]],
                 data_samples=batch['data_samples'])
    with pytest.raises(ValueError, match=r'one image per\s+data sample'):
        preprocessor(short, training=True)
    stacked = default_collate([dataset[i] for i in (0, 3, 7)])
    with pytest.raises(ValueError, match='one image per'):
        preprocessor(dict(inputs=stacked['inputs'],
                          data_samples=stacked['data_samples'][:2]), training=True)


@pytest.mark.parametrize('collate_fn, batch_size', [(None, 2), (None, 3),
                                                    ('default_collate', 3)])
def test_cds_in1k_config_trains_on_the_right_labels_through_runner_from_cfg(
        tmp_path, cifar10_root, collate_fn, batch_size):
    """``Runner.from_cfg(Config.fromfile(...))``, the path that skips tools/train.py:
    without a collate_fn mmengine uses pseudo_collate."""
    cfg = Config.fromfile(CDS_IN1K)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset', data_root=cifar10_root, data_prefix='train',
        indices=spread_indices(1)[:6], pipeline=TWO_KNOWN_VIEWS)
    cfg.train_dataloader.update(dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False))
    cfg.train_dataloader.pop('collate_fn', None)
    if collate_fn:
        cfg.train_dataloader.collate_fn = dict(type=collate_fn)
    cfg.merge_from_dict({'model.head.num_classes': 10,
                         'data_preprocessor.num_classes': 10,
                         'train_cfg.max_epochs': 1,
                         'default_hooks.logger.interval': 1})
    cfg.default_hooks.checkpoint = None
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    calls = record_loss_inputs(runner)
    runner.train()
    assert len(calls) == -(-6 // batch_size)
    seen = []
    for views, samples in calls:
        assert_views_belong_to_samples(views, samples, runner.model.data_preprocessor)
        seen += [s.img_path for s in samples]
    assert len(set(seen)) == 6
