"""A user's own project inherits our configs as `_base_ = 'mmcds::...'` (issue #16, 8),
from a folder outside the repository, for an editable and a regular install."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, FUNCTIONS, DefaultScope
from mmengine.runner import Runner

import mmcds  # noqa: F401  registers the 'mmcds' scope (mmcds/registry.py)
from conftest import REPO_ROOT, source_copy


def without_scopes(value):
    """The config as plain data, without the `_scope_` keys an external base adds."""
    if isinstance(value, dict):
        return {k: without_scopes(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [without_scopes(v) for v in value]
    return value


def user_config(tmp_path, base: str, body: str = '') -> str:
    path = tmp_path / 'user_project' / 'my_config.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"_base_ = '{base}'\n{body}")
    return str(path)


@pytest.mark.parametrize('name', ['cds/resnet50_8xb32_in1k.py',
                                  'cds/resnet18-w16_1xb64_cifar10-jpg.py',
                                  'dks/resnet18_8xb32_in1k.py',
                                  'det/faster_rcnn_r50_cds.py'])
def test_inherited_config_is_ours(tmp_path, monkeypatch, name):
    """Through `mmcds::` the merged config is the repository's, key by key: the chain
    behind it (relative `./`, `../_base_/` bases and `mmpretrain::`/`mmdet::` ones)
    resolves from the installed package."""
    ours = Config.fromfile(osp.join(REPO_ROOT, 'configs', name))
    monkeypatch.chdir(tmp_path)
    theirs = Config.fromfile(user_config(tmp_path, f'mmcds::{name}'))
    assert without_scopes(theirs.to_dict()) == without_scopes(ours.to_dict())
    if name.startswith('cds/resnet50'):
        assert theirs.model.type == 'CDSClassifier'
        assert theirs.model.backbone.depth == 50  # from the leaf itself
        assert theirs.model.head.in_channels == 2048
        assert theirs.model.cds_loss.temperature == 0.07  # ../_base_/methods/cds.py
        assert theirs.optim_wrapper.optimizer.type == 'SGD'  # mmpretrain:: base


def test_user_changes_apply_on_top(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(user_config(
        tmp_path, 'mmcds::cds/resnet18_8xb32_in1k.py',
        "model = dict(head=dict(num_classes=10), cds_loss=dict(temperature=0.1))\n"))
    assert (cfg.model.head.num_classes, cfg.model.cds_loss.temperature) == (10, 0.1)
    assert cfg.model.cds_loss.loss_weight == 0.1


def test_trains_and_tests_through_mmengine_runner(tmp_path, monkeypatch, cifar10_root):
    """Everything the base defines is built in the 'mmcds' scope: the dataset, its
    pipeline, the default_collate collate_fn, the ECE metric."""
    monkeypatch.chdir(tmp_path)
    loader = (f"dict(batch_size=4, num_workers=0, persistent_workers=False, "
              f"dataset=dict(data_root={cifar10_root!r}, indices=8))")
    path = user_config(tmp_path, 'mmcds::cds/resnet18-w16_1xb64_cifar10-jpg.py', (
        f"train_dataloader = {loader}\nval_dataloader = {loader}\n"
        "test_dataloader = val_dataloader\ntrain_cfg = dict(max_epochs=1)\n"
        f"work_dir = {str(tmp_path / 'work')!r}\n"))
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate', _scope_='mmcds')
    assert cfg.test_evaluator[1]._scope_ == 'mmcds'
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert {'accuracy/top1', 'calibration/ECE'} <= set(metrics)
    for key in ('loss', 'loss_cds_stage1', 'loss_cds_stage4'):
        assert torch.isfinite(torch.tensor(
            runner.message_hub.get_scalar(f'train/{key}').current())), key


def test_mmcds_scope_resolves_in_the_inheriting_scope():
    """mmpretrain and mmdet both register a `Resize`; an `mmcds`-scoped transform is
    the one of the scope the build starts from (the config's default_scope)."""
    from mmcds.registry import ALIASES
    for scope, module in (('mmpretrain', 'mmcv.'), ('mmdet', 'mmdet.')):
        with DefaultScope.overwrite_default_scope(scope):
            with DefaultScope.overwrite_default_scope('mmcds'):
                resize = ALIASES['TRANSFORMS'].get('Resize')
                ece = ALIASES['METRICS'].get('ExpectedCalibrationError')
        assert resize.__module__.startswith(module), (scope, resize)
        if scope == 'mmpretrain':
            assert ece.__module__.startswith('mmcds.')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dict(type='CustomDataset', _scope_='mmcds',
                                      data_root='.', data_prefix='tests',
                                      with_label=False, extensions=('.json', )))
    assert type(dataset).__module__.startswith('mmpretrain.')
    with pytest.raises(TypeError, match="register into mmpretrain's"):
        ALIASES['MODELS'].register_module(name='X', module=object)


def test_collate_fn_accepts_the_scope_key():
    """mmengine's Runner calls the collate function with the `_scope_` key an external
    base leaves in the dict: mmpretrain:: bases with collate_fn failed with TypeError."""
    batch = [dict(inputs=torch.ones(3)), dict(inputs=torch.zeros(3))]
    collated = FUNCTIONS.get('default_collate')(batch, _scope_='mmpretrain')
    assert collated['inputs'].tolist() == [[1.] * 3, [0.] * 3]
    assert FUNCTIONS.get('pseudo_collate')(batch, _scope_='mmcds')['inputs'][1].sum() == 0
    loader = Runner.build_dataloader(dict(
        batch_size=2, dataset=[torch.ones(2), torch.zeros(2)],
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmpretrain')))
    assert next(iter(loader)).shape == (2, 2)


def test_regular_install_ships_the_configs(tmp_path):
    """`pip install .` (not editable) copies mmcds/.mim/ (links in the repository) into
    the package; a fresh interpreter that imports that copy resolves `mmcds::` there."""
    source = source_copy(tmp_path)
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                    '--no-build-isolation', '--disable-pip-version-check', '--target',
                    str(target), str(source)], check=True, capture_output=True,
                   timeout=300)
    installed = target / 'mmcds' / '.mim'
    assert (installed / 'configs' / 'cds' / 'resnet50_8xb32_in1k.py').is_file()
    assert not (installed / 'configs').is_symlink()
    assert (installed / 'model-index.yml').is_file()

    config = user_config(tmp_path, 'mmcds::cds/resnet50_8xb32_in1k.py')
    script = ('import mmcds; from mmengine.config import Config; '
              f'cfg = Config.fromfile({config!r}); print(mmcds.__file__); '
              'print(cfg.model.type, cfg.model.backbone.depth)')
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    where, model = out.stdout.strip().splitlines()[-2:]
    assert where.startswith(str(target))
    assert model == 'CDSClassifier 50'
