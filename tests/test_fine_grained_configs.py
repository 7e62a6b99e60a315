"""The fine-grained configs on tiny copies of each data set in its official on-disk
layout (CUB's split files, Stanford Dogs' .mat lists, FGVC Aircraft's variant lists,
Flowers-102's and Stanford Cars' .mat files), read by the configs' own datasets; a
training step of the CE and CDS models on their loaders' batches."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

import mmcds  # noqa: F401
import standin_data

SETS = {'cub': 200, 'stanford-cars': 196, 'flowers102': 102, 'stanford-dogs': 120,
        'fgvc-aircraft': 100}
TEST_SIZES = {'cub': 2, 'stanford-cars': 1, 'flowers102': 2, 'stanford-dogs': 1,
              'fgvc-aircraft': 1}


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    out = {}
    for name in SETS:
        root = tmp_path_factory.mktemp(name)
        getattr(standin_data, 'write_' + name.replace('-', '_'))(root)
        out[name] = str(root)
    return out


def config(method, name):
    return Config.fromfile(f'configs/{method}/resnet50_8xb8_{name}.py')


def first_batch(cfg, root):
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.dataset.data_root = root
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    return next(iter(Runner.build_dataloader(loader)))


@pytest.fixture(scope='module')
def models():
    """The CE and CDS ResNet-50 of the configs, narrowed (stem and base width 8) and
    without the ImageNet checkpoint: built once, used for every data set."""
    out = {}
    for method in ('ce', 'cds'):
        cfg = config(method, 'cub')
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone.update(stem_channels=8, base_channels=8, init_cfg=None)
        model_cfg.head.in_channels = 256
        out[method] = MODELS.build(dict(model_cfg,
                                        data_preprocessor=cfg.data_preprocessor))
    return out


@pytest.mark.parametrize('name', sorted(SETS))
def test_ce_and_cds_configs_read_the_set_and_train_a_step(name, roots, models):
    for method in ('ce', 'cds'):
        cfg = config(method, name)
        assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes == \
            SETS[name]
        assert cfg.model.backbone.init_cfg.checkpoint.endswith(
            'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
        batch = first_batch(cfg, roots[name])
        views = batch['inputs'] if method == 'cds' else [batch['inputs']]
        assert len(views) == (2 if method == 'cds' else 1)
        assert all(tuple(v.shape) == (2, 3, 448, 448) for v in views)
        assert all(0 <= int(s.gt_label) < 2 for s in batch['data_samples'])
        model = models[method]
        before = model.backbone.conv1.weight.detach().clone()
        log_vars = model.train_step(batch, OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.01)))
        assert ('loss_cds_stage4' in log_vars) == (method == 'cds')
        assert all(np.isfinite(float(v)) for v in log_vars.values())
        assert not torch.equal(before, model.backbone.conv1.weight)


@pytest.mark.parametrize('name', sorted(SETS))
def test_the_test_split_is_read(name, roots):
    loader = copy.deepcopy(config('ce', name).test_dataloader)
    loader.dataset.data_root = roots[name]
    dataset = DATASETS.build(loader.dataset)
    # The images the tiny copies put in their test split.
    assert len(dataset) == TEST_SIZES[name]
    assert all(0 <= label < 2 for label in dataset.get_gt_labels())


def test_cds_leaves_change_only_the_method_and_views():
    for name in SETS:
        ce, cds = config('ce', name), config('cds', name)
        for field in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'val_dataloader',
                      'val_evaluator'):
            assert ce[field] == cds[field], (name, field)
        view1, _ = cds.train_dataloader.dataset.pipeline[1]['transforms']
        assert ce.train_dataloader.dataset.pipeline[1:-1] == view1


@pytest.mark.parametrize('name, message', [
    ('cub', 'nowhere/images.txt'),
    ('flowers102', 'nowhere/imagelabels.mat'),
    ('fgvc-aircraft', 'nowhere/data/images_variant_trainval.txt'),
    ('stanford-dogs', r"nowhere' has no 'Images'; expected the official layout"),
    # mmpretrain's StanfordCars names its layout documentation, not the path.
    ('stanford-cars', 'readthedocs.io/en/latest/api/datasets.html#stanfordcars'),
])
def test_an_absent_set_stops_with_a_message(name, message, tmp_path):
    dataset = copy.deepcopy(config('ce', name).train_dataloader.dataset)
    dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises((FileNotFoundError, RuntimeError), match=message):
        DATASETS.build(dataset)
