"""Every config loads and builds its model; the reorganised configs keep what they
train (fingerprints stored before the layout change, tests/config_fingerprint.py;
configs added later are stored as written, changed ones only where the change is
intended)."""
import glob
import json
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from config_fingerprint import FINGERPRINT_FILE, fingerprint
from conftest import REPO_ROOT, mmengine_without_memos
from standin_data import write_teacher_checkpoint

with open(FINGERPRINT_FILE) as f:
    REFERENCE = json.load(f)
LEAF_CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path)


@pytest.mark.parametrize('config', sorted(REFERENCE))
def test_reorganised_config_trains_what_it_trained(config):
    current = fingerprint(config)
    changed = [field for field, value in REFERENCE[config].items()
               if current[field] != value]
    assert not changed, f'{config}: these merged fields changed: {changed}'


def test_fingerprints_tell_configs_apart():
    r18 = fingerprint('configs/cds/resnet18_8xb32_in1k.py')
    r34 = fingerprint('configs/cds/resnet34_8xb32_in1k.py')
    assert r18['model'] != r34['model']
    assert {k: v for k, v in r18.items() if k != 'model'} == \
        {k: v for k, v in r34.items() if k != 'model'}


@pytest.mark.parametrize('config', ['configs/cds/resnet50_8xb32_in1k.py',
                                    'configs/det/faster_rcnn_r50_cds.py'])
def test_memos_of_the_test_suite_change_no_config(config, monkeypatch):
    """conftest.py remembers mmengine's model-index look-ups and yapf's formatting;
    with mmengine's own functions the config and its text are the same, and a
    remembered look-up reads no metafile."""
    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils
    remembered = Config.fromfile(config)
    remembered_text = remembered.pretty_text
    with mmengine_without_memos():
        assert config_module.FormatCode.__module__ == 'yapf.yapflib.yapf_api'
        own = Config.fromfile(config)
        assert own.pretty_text == remembered_text
    assert own.to_dict() == remembered.to_dict()
    metafile_reads = []
    load = config_utils.load
    monkeypatch.setattr(config_utils, 'load',
                        lambda *args, **kwargs: metafile_reads.append(args) or
                        load(*args, **kwargs))
    again = Config.fromfile(config)
    assert again.to_dict() == remembered.to_dict() and metafile_reads == []
    assert again.pretty_text == remembered_text
    with mmengine_without_memos():
        Config.fromfile(config)
    assert metafile_reads, 'mmengine\'s own look-up reads the model index'


def test_the_reference_covers_every_imagenet_and_detection_config():
    wanted = [c for c in LEAF_CONFIGS if '_in1k' in c or c.startswith(
        ('configs/det/', 'configs/demo/'))]
    assert set(wanted) == set(REFERENCE)


@pytest.mark.parametrize('config', LEAF_CONFIGS)
def test_every_config_loads_and_builds_its_model(config, tmp_path):
    cfg = Config.fromfile(config)
    if cfg.model.type == 'CDSDistiller':
        cfg.model.teacher_checkpoint = write_teacher_checkpoint(
            cfg.model.teacher_config, tmp_path / 'teacher.pth')
    scope = cfg.get('default_scope', None) or 'mmpretrain'
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        # The detectors' Pretrained files are checked by PretrainedCheckHook at train
        # time; building needs none.
        cfg.model.backbone.init_cfg = None
    else:
        from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == cfg.model.type


def test_method_settings_are_written_once():
    texts = {path: open(osp.join(REPO_ROOT, path)).read() for path in glob.glob(
        'configs/**/*.py', recursive=True)}
    # The CDS loss settings live in one file; no leaf re-exports prefixed variables.
    assert [p for p, t in texts.items() if re.search(r'\btemperature=0\.07', t)] == \
        ['configs/_base_/methods/cds.py']
    assert not [p for p, t in texts.items() if re.search(r'_base_\.cds_', t)]
    assert sorted(p for p, t in texts.items() if "type='ContrastiveDSLoss'" in t) == \
        ['configs/_base_/methods/cds.py', 'configs/_base_/methods/selfcon.py']
