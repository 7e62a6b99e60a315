"""Exact resume of the shipped configs, on a class-folder stand-in written here: the
per-sample augmentation seed of ExactResumeSampler (a sample is augmented anew every
epoch, and alike after a resume), and ExactResumeHook's per-iteration model seed (a
model with dropout resumes bit for bit), both through the configs' own sampler and
hooks."""
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401
from standin_data import write_class_folders

TINY_CE = 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py'
CLASSES = [f'class{i}' for i in range(10)]
BATCH_SIZE = 4  # 20 images: 5 iterations an epoch


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """10 classes of two 32x32 JPEGs, train/ and test/."""
    return write_class_folders(tmp_path_factory.mktemp('folders'), CLASSES)


def train_loader(root):
    """The config's train loader (ExactResumeSampler, seed 0) on the stand-in."""
    cfg = Config.fromfile(TINY_CE).train_dataloader
    cfg.dataset.data_root = root
    cfg.update(batch_size=BATCH_SIZE, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(cfg, seed=0)
    assert type(loader.sampler).__name__ == 'ExactResumeSampler'
    return loader


def augmented(loader, epoch, skip=0):
    """``{sample index: its augmented image}`` of one pass over ``loader`` in
    ``epoch``, the first ``skip`` samples left out as ExactResumeHook does on a resume
    inside the epoch; and the order of the indices."""
    loader.sampler.set_epoch(epoch)
    if skip:
        loader.sampler.skip_next(skip)
    images, order = {}, []
    for batch in loader:
        for image, sample in zip(batch['inputs'], batch['data_samples']):
            images[sample.sample_idx] = image
            order.append(sample.sample_idx)
    return images, order


def test_a_sample_is_augmented_anew_each_epoch_and_alike_after_a_resume(folders):
    """RandomCrop + flip + Cutout (view 1 of the reference recipe), seeded per sample
    by (seed, epoch, index)."""
    loader = train_loader(folders)
    first, _ = augmented(loader, epoch=0)
    second, order = augmented(loader, epoch=1)
    assert sorted(first) == sorted(second) == list(range(20))
    alike = [i for i in first if torch.equal(first[i], second[i])]
    assert not alike, f'samples {alike} were augmented identically in epochs 1 and 2'

    # A resumed run: a new process (other random states), a new loader, resumed
    # after 2 of epoch 2's 5 iterations.
    torch.manual_seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    resumed, rest = augmented(train_loader(folders), epoch=1, skip=2 * BATCH_SIZE)
    assert rest == order[2 * BATCH_SIZE:]
    differ = [i for i in rest if not torch.equal(resumed[i], second[i])]
    assert not differ, f'samples {differ} were augmented otherwise after the resume'


def dropout_cfg(root, work_dir):
    """The CE config with a dropout (p 0.5) between two Linear layers of its head,
    10 iterations over the stand-in, a checkpoint every 3 (iterations 3, 6, 9: inside
    epochs 1 and 2)."""
    cfg = Config.fromfile(TINY_CE)
    cfg.merge_from_dict({
        'work_dir': str(work_dir),
        'train_dataloader.dataset.data_root': root,
        'train_dataloader.batch_size': BATCH_SIZE,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 2,
        'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False,
                                         interval=3, max_keep_ckpts=5),
    })
    cfg.model.head = dict(type='StackedLinearClsHead', num_classes=10, in_channels=128,
                          mid_channels=[32], dropout_rate=0.5)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def test_a_model_with_dropout_resumes_bit_for_bit(folders, tmp_path):
    """A run resumed from its checkpoint inside epoch 2 (iteration 6 of 10) ends with
    the weights of the uninterrupted run: iteration 7 draws the dropout masks it drew
    there (ExactResumeHook seeds every iteration), although this process's random
    state is not a fresh one's."""
    uninterrupted = Runner.from_cfg(dropout_cfg(folders, tmp_path / 'whole'))
    dropout = [m for m in uninterrupted.model.modules()
               if isinstance(m, torch.nn.Dropout)]
    assert dropout and dropout[0].p == 0.5
    uninterrupted.train()
    final = {k: v.clone() for k, v in uninterrupted.model.state_dict().items()}

    cfg = dropout_cfg(folders, tmp_path / 'resumed')
    cfg.merge_from_dict({'resume': True,
                         'load_from': str(tmp_path / 'whole' / 'iter_6.pth')})
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 10
    state = resumed.model.state_dict()
    differ = [k for k, v in final.items() if not torch.equal(state[k], v)]
    assert not differ, f'{len(differ)} of {len(final)} tensors differ from the ' \
                       f'uninterrupted run after the resume, e.g. {differ[:3]}'
