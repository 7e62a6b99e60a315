"""Reliability (issue #15, item 3): class folders, class lists and num_classes are
checked before the first iteration, with one line naming fields and numbers."""
import os
import os.path as osp
import shutil

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401
from test_reliability import TINY_CE, class_folder_copy, tiny_runner_cfg


def test_empty_class_folder_in_train_is_an_error_naming_it(tmp_path, cifar10_root):
    root = class_folder_copy(cifar10_root, tmp_path / 'data', per_class=1)
    os.makedirs(osp.join(root, 'train', 'bird_empty'))
    cfg = tiny_runner_cfg(TINY_CE, tmp_path / 'work', root,
                          **{'model.head.num_classes': 11,
                             'data_preprocessor.num_classes': 11})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'empty class folder.*train/bird_empty'):
        runner.train()
    assert runner.iter == 0


def test_train_and_val_class_lists_must_match(tmp_path, cifar10_root):
    root = class_folder_copy(cifar10_root, tmp_path / 'data', per_class=1)
    # a non-empty extra class in train only: every later train label shifts
    shutil.copytree(osp.join(root, 'train', 'bird'), osp.join(root, 'train', 'bat'))
    cfg = tiny_runner_cfg(TINY_CE, tmp_path / 'work', root,
                          **{'model.head.num_classes': 11,
                             'data_preprocessor.num_classes': 11})
    cfg.val_dataloader = Config.fromfile(TINY_CE).val_dataloader
    cfg.val_dataloader.update(dict(num_workers=0, persistent_workers=False))
    cfg.val_dataloader.dataset.data_root = root
    cfg.val_cfg = dict()
    cfg.val_evaluator = dict(type='Accuracy')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as error:
        runner.train()
    message = str(error.value)
    assert 'train_dataloader.dataset has 11 classes' in message
    assert 'val_dataloader.dataset has 10' in message
    assert ("only in train_dataloader.dataset: 'bat'; only in "
            'val_dataloader.dataset: none') in message
    assert runner.iter == 0


@pytest.mark.parametrize('field, value', [
    ('model.head.num_classes', 5),
    ('data_preprocessor.num_classes', 9),
])
def test_num_classes_must_match_the_data(tmp_path, cifar10_root, field, value):
    cfg = tiny_runner_cfg(TINY_CE, tmp_path, cifar10_root,
                          **{'train_dataloader.dataset.indices': 8, field: value})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as error:
        runner.train()
    message = str(error.value)
    assert f'{field}={value} but train_dataloader.dataset has 10 classes' in message
    assert f'set {field}=10' in message and '\n' not in message
    assert runner.iter == 0


def test_test_set_classes_must_match_the_checkpoint(tmp_path, cifar10_root):
    """tools/test.py's flow (load_from + runner.test()): the test set's classes are
    compared with those the checkpoint was trained on (meta.dataset_meta)."""
    root = class_folder_copy(cifar10_root, tmp_path / 'data', per_class=1)
    cfg = tiny_runner_cfg(TINY_CE, tmp_path / 'work', root)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    Runner.from_cfg(cfg).train()
    # the same images, but the test folders name class 3 differently
    os.rename(osp.join(root, 'test', 'cat'), osp.join(root, 'test', 'kitten'))
    test_cfg = Config.fromfile(TINY_CE)
    test_cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'test'),
        'load_from': str(tmp_path / 'work' / 'epoch_1.pth'),
        'test_dataloader.dataset.data_root': root,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
    })
    test_cfg.custom_hooks = [dict(type='ClassCheckHook')]
    runner = Runner.from_cfg(test_cfg)
    with pytest.raises(ValueError) as error:
        runner.test()
    message = str(error.value)
    assert message.startswith('ClassCheckHook: the checkpoint (meta.dataset_meta) has '
                              '10 classes and test_dataloader.dataset has 10'), message
    assert ("(only in the checkpoint (meta.dataset_meta): 'cat'; only in "
            "test_dataloader.dataset: 'kitten')") in message
