"""The CIFAR-100 configs on a tiny CIFAR-100 the test writes in the official pickle
format (cifar-100-python/{train,test,meta}), read by mmpretrain's CIFAR100: the recipe,
a Runner iteration of the ResNet-18 CE and CDS configs, and a training step of every
network and method on batches from the configs' own loaders."""
import copy
import glob

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

import mmcds  # noqa: F401
from standin_data import cifar100_without_checksums, write_cifar100

CE_R18 = 'configs/ce/resnet18_1xb128_cifar100.py'
CDS_R18 = 'configs/cds/resnet18_1xb128_cifar100.py'
NETWORKS = sorted({path.split('/')[-1] for path in glob.glob('configs/c*/*_cifar100.py')})
METHOD_KEYS = {
    'ce': {'loss'},
    'cds': {'loss', 'loss_cds_stage1', 'loss_cds_stage2', 'loss_cds_stage3',
            'loss_cds_stage4'},
    'dsn': {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3'},
    'dks': {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3',
            'loss_dks_kl'},
    'dhm': {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3',
            'loss_dks_kl'},
    'selfcon': {'loss', 'loss_selfcon', 'loss_exit_stage2'},
}


@pytest.fixture(scope='module')
def cifar100_root(tmp_path_factory):
    return write_cifar100(tmp_path_factory.mktemp('cifar100'))


@pytest.fixture(autouse=True)
def _tiny_files_pass_the_checksum(monkeypatch):
    cifar100_without_checksums(monkeypatch)


def loader_cfg(config, root, batch_size=4):
    cfg = Config.fromfile(config).train_dataloader
    cfg.dataset.data_root = root
    cfg.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
    return cfg


@pytest.fixture(scope='module')
def batches(cifar100_root):
    """One batch of the one-view (CE) and one of the two-view (CDS) loader."""
    with pytest.MonkeyPatch.context() as patch:
        cifar100_without_checksums(patch)
        return {kind: next(iter(Runner.build_dataloader(loader_cfg(config,
                                                                   cifar100_root))))
                for kind, config in (('one', CE_R18), ('two', CDS_R18))}


def test_recipe_follows_the_reference_cifar_train_py():
    cfg = Config.fromfile(CDS_R18)
    assert cfg.train_dataloader.batch_size == 128
    optimizer = {k: v for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'}
    assert optimizer == dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4)
    assert (cfg.param_scheduler.type, cfg.param_scheduler.milestones,
            cfg.param_scheduler.gamma) == ('MultiStepLR', [90, 180, 280], 0.1)
    assert cfg.train_cfg.max_epochs == 300
    # Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) on [0, 255].
    assert np.allclose(cfg.data_preprocessor.mean, np.array([0.4914, 0.4822, 0.4465]) * 255)
    assert np.allclose(cfg.data_preprocessor.std, np.array([0.2023, 0.1994, 0.2010]) * 255)
    assert cfg.model.backbone.type == 'ResNet_CIFAR' and cfg.model.head.num_classes == 100
    assert cfg.model.backbone.zero_init_residual is False
    assert cfg.model.cds_loss.loss_weight == 0.1
    view1, view2 = cfg.train_dataloader.dataset.pipeline[0]['transforms']
    assert [t['type'] for t in view1] == ['RandomCrop', 'RandomFlip', 'ClippedCutout']
    assert view1[0]['pad_val'] == 128 and view1[2]['length'] == 16
    assert view2[0] == dict(type='RandomCrop', crop_size=32, padding=4)
    # The pickles hold RGB images: view 2's grayscale uses RGB weights.
    assert view2[-1]['channel_weights'] == (0.2989, 0.587, 0.114)
    assert Config.fromfile(CE_R18).train_dataloader.dataset.pipeline == \
        view1 + [dict(type='PackInputs')]


def test_absent_data_set_stops_with_the_path(tmp_path):
    dataset = copy.deepcopy(Config.fromfile(CE_R18).train_dataloader.dataset)
    dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(RuntimeError, match=f'Cannot find CIFAR100 dataset in '
                       f'{tmp_path}/nowhere'):
        DATASETS.build(dataset)


@pytest.mark.parametrize('config, keys', [(CE_R18, {'loss'}),
                                          (CDS_R18, METHOD_KEYS['cds'])])
def test_resnet18_configs_run_a_training_iteration(config, keys, cifar100_root,
                                                   tmp_path):
    cfg = Config.fromfile(config)
    for field in ('train_dataloader', 'val_dataloader'):
        cfg[field].dataset.data_root = cifar100_root
        cfg[field].update(batch_size=8, num_workers=0, persistent_workers=False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    runner = Runner.from_cfg(cfg)
    runner.train()
    for key in keys:
        assert len(runner.message_hub.get_scalar(f'train/{key}').data[0]) == 2, key
    # Validation on the tiny test split ran with the configs' evaluators.
    assert {'val/accuracy/top1', 'val/calibration/ECE'} <= set(
        runner.message_hub.log_scalars)


def narrow(model_cfg):
    """The config's model at a small width (a training step in seconds): stem and
    base channels 8 (16 for the wide ResNets' doubled bottlenecks), ResNeXt 2x4d."""
    model_cfg = copy.deepcopy(model_cfg)
    backbone = model_cfg.backbone
    backbone.update(stem_channels=8, base_channels=16 if 'expansion' in backbone else 8)
    if backbone.type == 'ResNeXt_CIFAR':
        backbone.update(groups=2, width_per_group=4)
    model_cfg.head.in_channels = MODELS.build(backbone).feat_dim
    return model_cfg


def train_step(config, batch):
    cfg = Config.fromfile(config)
    model = MODELS.build(dict(narrow(cfg.model), data_preprocessor=cfg.data_preprocessor))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    stem = model.backbone.conv1.weight.detach().clone()
    log_vars = model.train_step(copy.deepcopy(batch), optim)
    assert all(np.isfinite(float(v)) for v in log_vars.values())
    assert not torch.equal(stem, model.backbone.conv1.weight)
    return set(log_vars)


@pytest.mark.parametrize('method', ['ce', 'cds'])
@pytest.mark.parametrize('network', NETWORKS)
def test_every_network_trains_a_step(network, method, batches):
    assert train_step(f'configs/{method}/{network}',
                      batches['two' if method == 'cds' else 'one']) == \
        METHOD_KEYS[method]


@pytest.mark.parametrize('method', ['dsn', 'dks', 'dhm', 'selfcon'])
def test_baselines_train_a_step_on_the_ce_recipe(method, batches):
    config = f'configs/{method}/resnet18_1xb128_cifar100.py'
    cfg, ce = Config.fromfile(config), Config.fromfile(CE_R18)
    for field in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                  'data_preprocessor', 'val_evaluator'):
        assert cfg[field] == ce[field], field
    assert train_step(config, batches['one']) == METHOD_KEYS[method]
    if method == 'selfcon':
        assert cfg.model.exit_type == 'fc'  # the authors' CIFAR sub-network


def test_ten_networks_with_the_paper_s_names():
    assert NETWORKS == sorted(f'{name}_1xb128_cifar100.py' for name in (
        'resnet18', 'resnet50', 'resnet101', 'resnext50-32x4d', 'resnext101-32x4d',
        'wide-resnet50', 'wide-resnet101', 'seresnet18', 'seresnet50',
        'preact-resnet18'))
    for network in NETWORKS:
        ce = Config.fromfile(f'configs/ce/{network}')
        cds = Config.fromfile(f'configs/cds/{network}')
        assert cds.model.backbone == dict(ce.model.backbone, out_indices=(0, 1, 2, 3))
        assert cds.model.head == ce.model.head
