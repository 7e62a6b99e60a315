"""CDS backbones in MMDetection: the detection configs take a CDS classifier checkpoint
as it is, train and evaluate on coco128, and refuse a wrong checkpoint at start."""
import copy
import glob
import math
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

import mmcds  # noqa: F401
from mmcds.utils.checkpoint import CheckpointError
from conftest import (assert_same_state, load_runner_checkpoint, randomize_state,
                      state_after_resume)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

SMALL = {
    'faster_rcnn': osp.join(REPO, 'configs/det/faster_rcnn_r18-w16_fpn_coco128.py'),
    'retinanet': osp.join(REPO, 'configs/det/retinanet_r18-w16_fpn_coco128.py'),
}
R50 = {
    'faster_rcnn': (osp.join(REPO, 'configs/det/faster_rcnn_r50_cds.py'),
                    'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    'retinanet': (osp.join(REPO, 'configs/det/retinanet_r50_cds.py'),
                  'retinanet/retinanet_r50_fpn_1x_coco.py'),
}


def randomised_cds(backbone_type='ResNet'):
    """A tiny CDS classifier (ResNet-18, width 16) whose every tensor is random, so
    equality with it cannot come from a detector's own initialisation."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(
        type='CDSClassifier', _scope_='mmpretrain',
        backbone=dict(type=backbone_type, depth=18, stem_channels=16, base_channels=16,
                      out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=128)))
    randomize_state(model, seed=1)
    return model


def save_like_runner(model, path):
    """The layout mmengine's Runner.save_checkpoint writes (meta, state_dict, message
    hub with HistoryBuffers, optimizer)."""
    hub = MessageHub.get_instance('mmcds_test_det_transfer')
    hub.update_scalar('train/loss', 2.0)
    save_checkpoint(
        dict(meta=dict(cfg="model = dict(type='CDSClassifier')", epoch=1, iter=1,
                       seed=0, dataset_meta=dict(classes=['a', 'b', 'c'])),
             state_dict=weights_to_cpu(model.state_dict()),
             message_hub=hub.state_dict(),
             optimizer=torch.optim.SGD(model.parameters(), lr=0.1,
                                       momentum=0.9).state_dict()), str(path))
    return str(path)


@pytest.fixture(scope='module')
def cds_checkpoint(tmp_path_factory):
    model = randomised_cds()
    return model, save_like_runner(model, tmp_path_factory.mktemp('cds') / 'epoch_1.pth')


def small_cfg(name, checkpoint, work_dir=None, data_root=None):
    """The small config with the CDS checkpoint, settings for a 1-iteration CPU run
    and, given ``data_root``, coco128 there (all five fields, as the config
    documents)."""
    cfg = Config.fromfile(SMALL[name])
    options = {
        'model.backbone.init_cfg.checkpoint': checkpoint,
        # 2 train images = 1 iteration; 4 val images
        'train_dataloader.dataset.indices': 2,
        'val_dataloader.dataset.indices': 4,
        'test_dataloader.dataset.indices': 4,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
    }
    if data_root is not None:
        ann_file = osp.join(data_root, 'annotations/instances_val2017.json')
        options.update({
            'train_dataloader.dataset.data_root': data_root,
            'val_dataloader.dataset.data_root': data_root,
            'test_dataloader.dataset.data_root': data_root,
            'val_evaluator.ann_file': ann_file, 'test_evaluator.ann_file': ann_file})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    cfg.merge_from_dict(options)
    # an untrained detector scores every box below mmdet's 0.05 threshold, and COCO
    # metrics are only computed when there are detections
    test_cfg = cfg.model.test_cfg.get('rcnn', cfg.model.test_cfg)
    test_cfg.score_thr = 0.0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for transform in cfg[loader].dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = (192, 192)
    cfg.work_dir = str(work_dir) if work_dir else None
    cfg.experiment_name = f'{name}_{uuid.uuid4().hex[:8]}'  # one logger per runner
    cfg.launcher = 'none'
    return cfg


def unscoped(value):
    """A config value as plain data, without the _scope_ keys that inheriting
    through 'mmdet::' adds."""
    if isinstance(value, dict):
        return {k: unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [unscoped(v) for v in value]
    return value


def build_detector(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', sorted(SMALL))
def test_cds_checkpoint_loads_into_detector(name, cds_checkpoint):
    classifier, path = cds_checkpoint
    detector = build_detector(small_cfg(name, path))
    assert detector.backbone.init_cfg == dict(type='Pretrained', checkpoint=path,
                                              prefix='backbone.')
    detector.init_weights()
    expected = classifier.backbone.state_dict()
    loaded = detector.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize('name', sorted(R50))
def test_r50_configs_change_only_the_backbone_init(name):
    config, mmdet_base = R50[name]
    cfg = Config.fromfile(config)
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg == dict(type='Pretrained', prefix='backbone.',
                            checkpoint='work_dirs/resnet50_8xb32_in1k/epoch_90.pth')
    assert 'torchvision://' not in cfg.pretty_text
    assert [h.type for h in cfg.custom_hooks] == [
        'PretrainedCheckHook', 'NonFiniteLossHook', 'ClassCheckHook', 'DataErrorHook']
    # the field users override (--cfg-options)
    overridden = Config.fromfile(config)
    overridden.merge_from_dict({'model.backbone.init_cfg.checkpoint': '/x/cds.pth'})
    assert overridden.model.backbone.init_cfg == dict(
        type='Pretrained', prefix='backbone.', checkpoint='/x/cds.pth')
    # everything else is mmdet's recipe
    import mmdet
    base = Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', mmdet_base))
    for cfg_ in (cfg, base):
        cfg_.model.backbone.pop('init_cfg')
    for field in ('model', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                  'train_dataloader', 'val_evaluator'):
        assert unscoped(cfg[field]) == unscoped(base[field]), field


def test_wrong_checkpoints_are_refused_naming_the_field(cds_checkpoint, tmp_path):
    from mmcds.det import check_all
    field = 'model.backbone.init_cfg.checkpoint'
    detector = build_detector(small_cfg('faster_rcnn', str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match=f"{field}: no such file '.*nope.pth'"):
        check_all(detector)

    detector = build_detector(small_cfg('faster_rcnn', None))
    with pytest.raises(ValueError, match=f'{field} is not set'):
        check_all(detector)

    cifar = save_like_runner(randomised_cds('ResNet_CIFAR'), tmp_path / 'cifar.pth')
    detector = build_detector(small_cfg('faster_rcnn', cifar))
    with pytest.raises(CheckpointError,
                       match=r'conv1.weight: checkpoint \(16, 3, 3, 3\) vs model '
                       r'\(16, 3, 7, 7\).*3x3 stem'):
        check_all(detector)

    # a backbone-only file with the config's prefix='backbone.'
    bare = tmp_path / 'bare.pth'
    torch.save(cds_checkpoint[0].backbone.state_dict(), bare)
    detector = build_detector(small_cfg('faster_rcnn', str(bare)))
    with pytest.raises(CheckpointError, match=r'set model.backbone.init_cfg.prefix=None'):
        check_all(detector)

    lines = check_all(build_detector(small_cfg('retinanet', cds_checkpoint[1])))
    assert len(lines) == 1 and "load backbone. in model from: " in lines[0]


def test_check_hook_cases_strict_remote_and_not_a_checkpoint(cds_checkpoint, tmp_path):
    from mmcds.det import check_all
    field = 'model.backbone.init_cfg'
    notes = tmp_path / 'notes.pth'
    notes.write_text('not a checkpoint')
    detector = build_detector(small_cfg('faster_rcnn', str(notes)))
    with pytest.raises(CheckpointError,
                       match=f'{field}.checkpoint: .*notes.pth is not a PyTorch '
                       'checkpoint'):
        check_all(detector)

    # A remote file is left to mmengine's loader: reported, not fetched.
    url = 'https://example.invalid/cds_r18.pth'
    lines = check_all(build_detector(small_cfg('faster_rcnn', url)))
    assert lines == [f"{field}: remote checkpoint '{url}' not checked"]

    # A backbone without its last stage: refused when strict, reported otherwise.
    model, _ = cds_checkpoint
    partial = tmp_path / 'partial.pth'
    torch.save(dict(state_dict={k: v for k, v in model.state_dict().items()
                                if not k.startswith('backbone.layer4.')}), partial)
    detector = build_detector(small_cfg('faster_rcnn', str(partial)))
    missing = len([k for k in detector.backbone.state_dict()
                   if k.startswith('layer4.') and 'num_batches_tracked' not in k])
    with pytest.raises(CheckpointError, match=f'{missing} missing'):
        check_all(detector, strict=True)
    (line, ) = check_all(detector, strict=False)
    assert f', {missing} missing' in line


def test_config_level_check_for_tools_train(cds_checkpoint, tmp_path, monkeypatch):
    from mmcds.det import check_config_checkpoints
    monkeypatch.chdir(tmp_path)  # no work_dirs/ here, whatever the repository holds
    cfg = Config.fromfile(R50['faster_rcnn'][0])
    with pytest.raises(FileNotFoundError,
                       match=r"model.backbone.init_cfg.checkpoint: no such file "
                       r"'work_dirs/resnet50_8xb32_in1k/epoch_90.pth'.*Pretrain the "
                       r'backbone first'):
        check_config_checkpoints(cfg)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': cds_checkpoint[1]})
    check_config_checkpoints(cfg)
    with pytest.raises(ValueError, match='model.backbone.init_cfg.checkpoint is not set'):
        check_config_checkpoints(Config.fromfile(SMALL['retinanet']))
    cfg = Config.fromfile(SMALL['retinanet'])
    cfg.merge_from_dict({'model.backbone.init_cfg': None})
    check_config_checkpoints(cfg)  # from scratch: nothing to check


def test_missing_checkpoint_stops_training_at_start(tmp_path, coco128_root):
    runner = Runner.from_cfg(small_cfg('retinanet', str(tmp_path / 'missing.pth'),
                                       tmp_path / 'work', coco128_root))
    with pytest.raises(FileNotFoundError,
                       match='model.backbone.init_cfg.checkpoint: no such file'):
        runner.train()
    assert runner.iter == 0


@pytest.mark.parametrize('name', sorted(SMALL))
def test_train_one_iteration_and_evaluate(name, cds_checkpoint, tmp_path, coco128_root):
    classifier, path = cds_checkpoint
    runner = Runner.from_cfg(small_cfg(name, path, tmp_path / 'work', coco128_root))
    runner.train()
    assert runner.iter == 1

    hub = runner.message_hub
    losses = {k: v.current() for k, v in hub.log_scalars.items()
              if k.startswith('train/loss')}
    expected_terms = {'faster_rcnn': {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls',
                                      'loss_bbox'},
                      'retinanet': {'loss_cls', 'loss_bbox'}}[name]
    assert {k[len('train/'):] for k in losses} >= expected_terms | {'loss'}
    assert all(math.isfinite(v) for v in losses.values()), losses
    # the end-of-training validation on 4 val2017 images ran
    assert 'val/coco/bbox_mAP' in hub.log_scalars

    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    assert f'load backbone. in model from: {path}' in log
    assert 'model.backbone.init_cfg: ' in log  # PretrainedCheckHook's summary

    if name != 'faster_rcnn':
        return
    # tools/test.py's flow: load_from the detector checkpoint; the backbone's init
    # checkpoint is neither needed nor checked (here it no longer exists). The
    # reloaded detector predicts exactly what the trained one does.
    saved_path = osp.join(tmp_path, 'work', 'epoch_1.pth')
    test_cfg = small_cfg(name, str(tmp_path / 'gone.pth'), tmp_path / 'test',
                         coco128_root)
    test_cfg.load_from = saved_path
    tester = Runner.from_cfg(test_cfg)
    tester.load_or_resume()
    batch = next(iter(tester.test_dataloader))
    runner.model.eval()
    tester.model.eval()
    with torch.no_grad():
        # test_step writes into the batch's data samples: one copy each.
        ours = tester.model.test_step(copy.deepcopy(batch))
        trained = runner.model.test_step(copy.deepcopy(batch))
    for a, b in zip(ours, trained):
        assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)
    assert len(ours) == 2 and len(ours[0].pred_instances) > 0

    # Resumed once: the saved weights, optimizer and schedulers, epoch 1 done.
    resume_cfg = small_cfg(name, path, tmp_path / 'work', coco128_root)
    resume_cfg.merge_from_dict({'train_cfg.max_epochs': 2, 'resume': True,
                                'load_from': saved_path})
    resumed = state_after_resume(resume_cfg)
    saved = load_runner_checkpoint(saved_path)
    assert (resumed['epoch'], resumed['iter']) == (1, 1)
    assert_same_state(resumed['model'], saved['state_dict'], 'state_dict')
    assert_same_state(resumed['optimizer'], saved['optimizer'], 'optimizer')
    assert_same_state(resumed['schedulers'], saved['param_schedulers'],
                      'param_schedulers')


@pytest.mark.parametrize('method', ['dsn', 'dks', 'dhm'])
@pytest.mark.parametrize('name', sorted(R50))
def test_baseline_detectors_change_only_the_checkpoint_and_its_hint(name, method,
                                                                    tmp_path,
                                                                    monkeypatch):
    from mmcds.det import check_config_checkpoints
    cds = Config.fromfile(R50[name][0])
    cfg = Config.fromfile(R50[name][0].replace('_cds.py', f'_{method}.py'))
    work_dir = f'work_dirs/{method}_resnet50_8xb32_in1k'
    assert cfg.model.backbone.init_cfg == dict(
        cds.model.backbone.init_cfg, checkpoint=f'{work_dir}/epoch_90.pth')
    hint = f'configs/{method}/resnet50_8xb32_in1k.py --work-dir {work_dir}'
    assert [h.type for h in cfg.custom_hooks] == [
        'PretrainedCheckHook', 'NonFiniteLossHook', 'ClassCheckHook', 'DataErrorHook']
    assert hint in cfg.custom_hooks[0].hint
    for cfg_ in (cfg, cds):
        cfg_.model.backbone.pop('init_cfg')
    for field in ('model', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                  'train_dataloader', 'val_evaluator', 'custom_imports'):
        assert cfg[field] == cds[field], field
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=f'{work_dir}/epoch_90.pth.*{hint}'):
        check_config_checkpoints(Config.fromfile(
            R50[name][0].replace('_cds.py', f'_{method}.py')))


@pytest.mark.parametrize('classifier', [
    dict(type='DSNClassifier'),
    dict(type='DKSClassifier'),
    dict(type='DKSClassifier', exit_type='resnet', kl_pairs='main'),  # DHM-style
])
def test_a_baseline_classifier_checkpoint_fills_the_detector_backbone(classifier,
                                                                     tmp_path):
    """The exits and their heads are left out; the backbone loads as it is."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(
        classifier, _scope_='mmpretrain',
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16,
                      out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=128)))
    randomize_state(model, seed=2)
    assert any(k.startswith('exits.') for k in model.state_dict())
    path = save_like_runner(model, tmp_path / 'baseline.pth')
    detector = build_detector(small_cfg('faster_rcnn', path))
    detector.init_weights()
    loaded = detector.backbone.state_dict()
    expected = model.backbone.state_dict()
    assert set(loaded) == set(expected)
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())
