"""CDSDistiller: each loss term against an independent computation, the frozen and
unsaved teacher, checkpoints that load and convert like a CDS one, the build-time
errors, the configs' presets, and a 2-process CPU run."""
import copy
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint, weights_to_cpu
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401
from mmcds.utils.checkpoint import CheckpointError, load_checkpoint_file
from conftest import dist_train_in_forked_processes, load_tool, randomize_state
from test_contrastive_ds_loss import supcon_by_loops

NUM_CLASSES = 4
# The reference CIFAR normalisation (configs/_base_/datasets/cifar10_jpg_bs64.py).
PREPROCESSOR = dict(type='MultiViewClsDataPreprocessor', num_classes=NUM_CLASSES,
                    mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255],
                    to_rgb=True)
CIFAR10_DISTILL = 'configs/distill/resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg.py'


def cds_cfg(width=8, backbone_type='ResNet', out_indices=(0, 1, 2, 3), **kwargs):
    """A tiny CDS classifier (ResNet-18 of width ``width``, 4 classes)."""
    return dict(type='CDSClassifier',
                backbone=dict(type=backbone_type, depth=18, stem_channels=width,
                              base_channels=width, out_indices=out_indices),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                          in_channels=8 * width),
                data_preprocessor=PREPROCESSOR, **kwargs)


def save_teacher(cfg, path, seed=3):
    """Build ``cfg``, randomise every tensor (BN statistics too) and save it as
    mmengine's runner does; returns the model and the path."""
    teacher = MODELS.build(copy.deepcopy(cfg))
    randomize_state(teacher, seed)
    save_checkpoint(dict(meta=dict(epoch=1),
                         state_dict=weights_to_cpu(teacher.state_dict())), str(path))
    return teacher.eval(), str(path)


@pytest.fixture(scope='module')
def teacher_w16(tmp_path_factory):
    return save_teacher(cds_cfg(16), tmp_path_factory.mktemp('teacher') / 'w16.pth')


def distiller(teacher_checkpoint, teacher_config=None, width=8, **kwargs):
    cfg = dict(cds_cfg(width), type='CDSDistiller',
               teacher_config=teacher_config or cds_cfg(16),
               teacher_checkpoint=teacher_checkpoint)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def two_view_batch(num_images=6, seed=0):
    """What the CIFAR two-view train pipeline and default_collate make of random
    32x32 images (the real structure: a list of 2 uint8 (N, 3, 32, 32) tensors)."""
    cfg = Config.fromfile('configs/_base_/datasets/cifar10_jpg_bs64_2views.py')
    pipeline = Compose(cfg.train_pipeline[1:])  # images are given, not read
    rng = np.random.default_rng(seed)
    samples = [pipeline(dict(img=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
                             img_shape=(32, 32), ori_shape=(32, 32),
                             gt_label=i % NUM_CLASSES)) for i in range(num_images)]
    return default_collate(samples)


def normalised_views(model, data):
    out = model.data_preprocessor(copy.deepcopy(data), True)
    return out['inputs'], out['data_samples']


# --------------------------------------------------------------- the loss terms
def kd_by_numpy(student, teacher, temperature, weight):
    """Soft cross-entropy at temperature T, in float64, no T^2."""
    s = student.detach().double().numpy() / temperature
    t = teacher.detach().double().numpy() / temperature
    log_p_s = s - np.log(np.exp(s - s.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - s.max(1, keepdims=True)
    p_t = np.exp(t - t.max(1, keepdims=True))
    p_t /= p_t.sum(1, keepdims=True)
    return weight * np.mean(-(p_t * log_p_s).sum(1))


def test_kd_term_is_the_soft_cross_entropy_without_t_squared(teacher_w16):
    model = distiller(teacher_w16[1], kd_temperature=3.0, kd_loss_weight=0.7)
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(5, NUM_CLASSES, generator=generator) * 4
    teacher = torch.randn(5, NUM_CLASSES, generator=generator) * 4
    assert model.kd_loss(student, teacher).item() == pytest.approx(
        kd_by_numpy(student, teacher, 3.0, 0.7), rel=1e-6)
    # Hand check: equal uniform logits -> w * H(uniform) = w * log K for every T
    # (with Hinton's T^2 it would be 9 times that at T = 3).
    zeros = torch.zeros(2, NUM_CLASSES)
    assert model.kd_loss(zeros, zeros).item() == pytest.approx(0.7 * np.log(NUM_CLASSES))


def feat_by_numpy(teacher, student, weight, linear=None):
    """w * Frobenius norm of the whole (N V) x D difference, not squared or averaged."""
    t = teacher.detach().double().numpy().reshape(-1, teacher.shape[-1])
    z = student.detach().double().numpy().reshape(-1, student.shape[-1])
    if linear is not None:
        z = z @ linear.weight.detach().double().numpy().T + \
            linear.bias.detach().double().numpy()
    return weight * np.sqrt(((t - z)**2).sum())


def test_feature_term_is_the_unsquared_frobenius_norm_through_the_adapter(teacher_w16):
    model = distiller(teacher_w16[1], feat_loss_weight=[0.1, 0.2, 0.3, 0.4])
    # student 64-d, teacher 128-d embeddings: a Linear (with bias) per stage
    assert sorted(model.feat_adapters) == ['stage1', 'stage2', 'stage3', 'stage4']
    assert model.feat_adapters['stage2'].in_features == 64
    assert model.feat_adapters['stage2'].out_features == 128
    generator = torch.Generator().manual_seed(1)
    student = [F.normalize(torch.randn(3, 2, 64, generator=generator), dim=-1)] * 4
    teacher = [F.normalize(torch.randn(3, 2, 128, generator=generator), dim=-1)] * 4
    losses = model.feature_losses(student, teacher)
    assert sorted(losses) == [f'loss_feat_stage{k}' for k in (1, 2, 3, 4)]
    for k, weight in zip((1, 2, 3, 4), (0.1, 0.2, 0.3, 0.4)):
        expected = feat_by_numpy(teacher[k - 1], student[k - 1], weight,
                                 model.feat_adapters[f'stage{k}'])
        assert losses[f'loss_feat_stage{k}'].item() == pytest.approx(expected, rel=1e-5)
    # Over the whole batch: twice the rows (the same ones) -> sqrt(2) times the term
    # (a mean would stay, a squared norm would double).
    doubled = model.feature_losses([torch.cat([z, z]) for z in student],
                                   [torch.cat([t, t]) for t in teacher])
    assert doubled['loss_feat_stage1'].item() == pytest.approx(
        np.sqrt(2) * losses['loss_feat_stage1'].item(), rel=1e-5)


def test_equal_widths_need_no_adapter(tmp_path):
    _, path = save_teacher(cds_cfg(8), tmp_path / 'w8.pth')
    model = distiller(path, teacher_config=cds_cfg(8))
    assert len(model.feat_adapters) == 0
    assert not any(k.startswith('feat_adapters.') for k in model.state_dict())
    z = [F.normalize(torch.randn(3, 2, 64), dim=-1)] * 4
    t = [F.normalize(torch.randn(3, 2, 64), dim=-1)] * 4
    assert model.feature_losses(z, t)['loss_feat_stage3'].item() == pytest.approx(
        feat_by_numpy(t[2], z[2], 0.1), rel=1e-5)


def test_every_loss_key_matches_an_independent_computation(teacher_w16):
    teacher_model, path = teacher_w16
    model = distiller(path, kd_temperature=2.0, kd_loss_weight=0.5,
                      feat_loss_weight=0.3,
                      cds_loss=dict(type='ContrastiveDSLoss', temperature=0.5,
                                    loss_weight=0.2))
    randomize_state(model, seed=4)
    # eval: BN on running statistics, so a sub-batch gives the same rows as the batch
    model.eval()
    views, samples = normalised_views(model, two_view_batch())
    labels = torch.tensor([s.gt_label.item() for s in samples])
    losses = model.loss(views, samples)
    assert sorted(losses) == sorted(
        ['loss', 'loss_kd'] + [f'loss_cds_stage{k}' for k in (1, 2, 3, 4)]
        + [f'loss_feat_stage{k}' for k in (1, 2, 3, 4)])
    both = torch.cat(views)  # [v1; v2]: what student and teacher both see
    n = views[0].shape[0]
    with torch.no_grad():
        student_logits = model(views[0], mode='tensor')
        teacher_logits = teacher_model(views[0], mode='tensor')
        student_z = model.cds_neck(model.backbone(both))
        teacher_z = teacher_model.cds_neck(teacher_model.backbone(both))
    assert losses['loss'].item() == pytest.approx(
        F.cross_entropy(student_logits, labels).item(), rel=1e-5)
    assert losses['loss_kd'].item() == pytest.approx(
        kd_by_numpy(student_logits, teacher_logits, 2.0, 0.5), rel=1e-5)
    for k in (1, 2, 3, 4):
        z = student_z[k - 1]
        expected = feat_by_numpy(teacher_z[k - 1], z, 0.3,
                                 model.feat_adapters[f'stage{k}'])
        assert losses[f'loss_feat_stage{k}'].item() == pytest.approx(expected, rel=1e-4)
        per_image = torch.stack([z[:n], z[n:]], dim=1)  # (N, 2, D)
        assert losses[f'loss_cds_stage{k}'].item() == pytest.approx(
            0.2 * supcon_by_loops(per_image, labels, 0.5), rel=1e-4)


# ------------------------------------------------------------------ the teacher
def test_no_gradient_reaches_the_teacher_and_the_optimizer_never_sees_it(teacher_w16):
    model = distiller(teacher_w16[1]).train()
    views, samples = normalised_views(model, two_view_batch())
    sum(model.loss(views, samples).values()).backward()
    teacher_params = list(model.teacher.parameters())
    assert teacher_params and all(not p.requires_grad and p.grad is None
                                  for p in teacher_params)
    assert all(p.grad is not None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.feat_adapters.parameters())
    optim_wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    in_optimizer = {id(p) for group in optim_wrapper.optimizer.param_groups
                    for p in group['params']}
    assert not in_optimizer & {id(p) for p in teacher_params}
    assert in_optimizer == {id(p) for p in model.parameters()}
    assert not any(name.startswith('teacher') for name, _ in model.named_modules())


@pytest.mark.parametrize('train_mode', [False, True])
def test_teacher_batchnorm_statistics_after_a_training_step(teacher_w16, train_mode):
    model = distiller(teacher_w16[1], teacher_train_mode=train_mode)
    optim_wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.1)))
    model.train()
    assert model.teacher.training is train_mode
    stats = {k: v.clone() for k, v in model.teacher.state_dict().items()
             if 'running_' in k or 'num_batches_tracked' in k}
    before = model.backbone.conv1.weight.clone()
    log_vars = model.train_step(two_view_batch(), optim_wrapper)
    assert not torch.equal(before, model.backbone.conv1.weight)  # the student learnt
    assert 'loss_kd' in log_vars and 'loss_feat_stage4' in log_vars
    after = model.teacher.state_dict()
    changed = [k for k, v in stats.items() if not torch.equal(v, after[k])]
    if train_mode:  # the reference's teacher.train(): statistics drift
        assert 'backbone.bn1.running_mean' in changed
        assert 'cds_neck.heads.0.0.0.pointwise_conv.bn.running_var' in changed
    else:
        assert changed == []
    model.eval()
    assert model.teacher.training is False


def test_teacher_moves_and_casts_with_the_model(teacher_w16):
    model = distiller(teacher_w16[1]).double()
    assert next(model.teacher.parameters()).dtype == torch.float64
    assert 'teacher=CDSClassifier (frozen, not saved)' in repr(model)
    model.float()
    assert next(model.teacher.parameters()).dtype == torch.float32


def test_classic_kd_uses_one_view_and_freezes_the_projection_heads(tmp_path):
    ce = dict(cds_cfg(16), type='ImageClassifier',
              backbone=dict(cds_cfg(16)['backbone'], out_indices=(3, )))
    _, path = save_teacher(ce, tmp_path / 'ce.pth')
    model = distiller(path, teacher_config=ce, feat_loss_weight=0.,
                      cds_loss=dict(type='ContrastiveDSLoss', loss_weight=0.))
    assert not model.uses_views and len(model.feat_adapters) == 0
    assert not any(p.requires_grad for p in model.cds_neck.parameters())
    model.train()
    views, samples = normalised_views(model, two_view_batch())
    losses = model.loss(views[0], samples)  # a one-view batch
    assert sorted(losses) == ['loss', 'loss_kd']
    assert model.loss(views, samples).keys() == losses.keys()  # view 2 is ignored


def test_unused_projection_heads_are_frozen(teacher_w16):
    model = distiller(teacher_w16[1], feat_stages=[2], feat_loss_weight=0.5,
                      cds_loss=dict(type='ContrastiveDSLoss', loss_weight=0.))
    trainable = [{p.requires_grad for p in head.parameters()}
                 for head in model.cds_neck.heads]
    # stage 3's head feeds the feature term; the last stage's head only pools
    assert trainable == [{False}, {False}, {True}, set()]
    assert sorted(model.feat_adapters) == ['stage3']
    views, samples = normalised_views(model, two_view_batch())
    assert sorted(model.loss(views, samples)) == ['loss', 'loss_feat_stage3', 'loss_kd']


# ------------------------------------------------------------------ checkpoints
def test_checkpoint_loads_and_converts_like_a_cds_one(tmp_path):
    """ResNet-18 of width 16 (the small detectors' backbone) taught by width 32."""
    _, teacher_path = save_teacher(cds_cfg(32), tmp_path / 'teacher.pth')
    model = distiller(teacher_path, teacher_config=cds_cfg(32), width=16)
    randomize_state(model, seed=5)
    path = str(tmp_path / 'student.pth')
    save_checkpoint(dict(meta=dict(cfg='model = dict(type="CDSDistiller")', epoch=1),
                         state_dict=weights_to_cpu(model.state_dict())), path)
    state_dict = load_checkpoint_file(path)['state_dict']
    plain_cds = MODELS.build(cds_cfg(16))
    adapters = {k for k in state_dict if k.startswith('feat_adapters.')}
    assert len(adapters) == 8  # 4 stages x (weight, bias)
    # Exactly the student's keys (a CDSClassifier's) plus the adapters: no teacher.
    assert set(state_dict) == set(plain_cds.state_dict()) | adapters
    for key, value in model.state_dict().items():
        assert torch.equal(state_dict[key], value), key

    # mmengine's load_checkpoint into the plain CDS config: nothing missing.
    missing, unexpected = plain_cds.load_state_dict(state_dict, strict=False)
    assert missing == [] and set(unexpected) == adapters
    load_checkpoint(plain_cds, path, strict=False)
    assert torch.equal(plain_cds.backbone.layer4[1].conv2.weight,
                       model.backbone.layer4[1].conv2.weight)

    # The converter: a plain mmpretrain ImageClassifier (strict) and mmdet's ResNet.
    tool = load_tool('model_converters/convert_cds_checkpoint')
    assert tool.main([path, str(tmp_path / 'cls.pth'), '--format', 'mmpretrain']) == 0
    classifier = MODELS.build(dict(cds_cfg(16), type='ImageClassifier',
                                   backbone=dict(type='ResNet', depth=18,
                                                 stem_channels=16, base_channels=16)))
    classifier.load_state_dict(torch.load(tmp_path / 'cls.pth')['state_dict'],
                               strict=True)
    assert torch.equal(classifier.head.fc.weight, model.head.fc.weight)
    assert tool.main([path, str(tmp_path / 'bb.pth'), '--format', 'backbone',
                      '--depth', '18']) == 0
    from mmdet.registry import MODELS as DET_MODELS
    resnet = DET_MODELS.build(dict(type='mmdet.ResNet', depth=18, stem_channels=16,
                                   base_channels=16))
    resnet.load_state_dict(torch.load(tmp_path / 'bb.pth')['state_dict'], strict=True)
    assert torch.equal(resnet.conv1.weight, model.backbone.conv1.weight)

    # The small detector reads the distilled checkpoint as it is (prefix 'backbone.').
    from mmcds.det import check_all
    cfg = Config.fromfile('configs/det/faster_rcnn_r18-w16_fpn_coco128.py')
    cfg.model.backbone.init_cfg.checkpoint = path
    detector = DET_MODELS.build(dict(cfg.model, _scope_='mmdet'))
    assert 'load backbone. in model from: ' in check_all(detector)[0]
    detector.init_weights()
    assert torch.equal(detector.backbone.layer3[0].conv1.weight,
                       model.backbone.layer3[0].conv1.weight)


# ----------------------------------------------------------------------- errors
def test_teacher_checkpoint_missing_or_not_loadable(teacher_w16, tmp_path):
    with pytest.raises(ValueError, match='CDSDistiller.teacher_checkpoint: not set'):
        distiller(None)
    nowhere = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError,
                       match='CDSDistiller.teacher_checkpoint: file not found: '
                       f'{nowhere}'):
        distiller(nowhere)
    # A checkpoint of another width: the file and the first mismatching keys.
    _, other = save_teacher(cds_cfg(8), tmp_path / 'w8.pth')
    with pytest.raises(CheckpointError,
                       match=r'teacher_checkpoint: .*w8\.pth does not load into the '
                       r'teacher config .*shape mismatches \[.backbone\.conv1\.weight: '
                       r'\(8, 3, 7, 7\) in the file, \(16, 3, 7, 7\) in the teacher'):
        distiller(other)
    # The projection heads dropped (a converted mmpretrain-format file): missing keys.
    state = load_checkpoint_file(teacher_w16[1])['state_dict']
    torch.save(dict(state_dict={k: v for k, v in state.items()
                                if not k.startswith('cds_neck.')}), tmp_path / 'cls.pth')
    with pytest.raises(CheckpointError,
                       match=r'cls\.pth does not load .*84 missing keys '
                       r'\[.cds_neck\.heads\.0\.0\.0\.depthwise_conv'):
        distiller(str(tmp_path / 'cls.pth'))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_text('not a checkpoint')
    with pytest.raises(CheckpointError,
                       match='CDSDistiller.teacher_checkpoint: .*garbage'):
        distiller(str(garbage))


def test_teacher_that_cannot_give_what_the_terms_need(teacher_w16, tmp_path):
    three = cds_cfg(16, out_indices=(1, 2, 3))
    _, path = save_teacher(three, tmp_path / 'three.pth')
    with pytest.raises(ValueError, match=r'CDSDistiller.feat_stages: the teacher .* has '
                       r'3 stages .* the student 4'):
        distiller(path, teacher_config=three)
    distiller(path, teacher_config=three, feat_loss_weight=0.)  # logits only: fine

    ce = dict(cds_cfg(16), type='ImageClassifier',
              backbone=dict(cds_cfg(16)['backbone'], out_indices=(3, )))
    _, path = save_teacher(ce, tmp_path / 'ce.pth')
    with pytest.raises(TypeError, match=r'teacher_config: .* builds a ImageClassifier, '
                       r'but the feature term'):
        distiller(path, teacher_config=ce)

    six = dict(cds_cfg(16), head=dict(cds_cfg(16)['head'], num_classes=6))
    _, path = save_teacher(six, tmp_path / 'six.pth')
    with pytest.raises(ValueError, match='predicts 6 classes, the student 4'):
        distiller(path, teacher_config=six)

    other_norm = dict(cds_cfg(16), data_preprocessor=dict(PREPROCESSOR, mean=[0, 0, 0]))
    with pytest.raises(ValueError, match='CDSDistiller.data_preprocessor: the teacher'):
        distiller(teacher_w16[1], teacher_config=other_norm)
    with pytest.raises(ValueError, match='nothing is distilled'):
        distiller(teacher_w16[1], kd_loss_weight=0., feat_loss_weight=0.)
    with pytest.raises(ValueError, match=r'feat_stages=\(4,\)'):
        distiller(teacher_w16[1], feat_stages=[4])
    with pytest.raises(FileNotFoundError, match='teacher_config: config file not found'):
        distiller(teacher_w16[1], teacher_config='configs/cds/no_such_config.py')


def test_relative_teacher_config_is_found_from_another_directory(tmp_path, monkeypatch):
    cfg = Config.fromfile(CIFAR10_DISTILL)
    teacher = MODELS.build(Config.fromfile(cfg.model.teacher_config).model)
    torch.save(dict(state_dict=teacher.state_dict()), tmp_path / 't.pth')
    monkeypatch.chdir(tmp_path)
    cfg.model.teacher_checkpoint = str(tmp_path / 't.pth')
    model = MODELS.build(cfg.model)
    assert type(model.teacher).__name__ == 'CDSClassifier'
    assert model.teacher.cds_neck.out_channels == 256
    assert model.cds_neck.out_channels == 128


# ---------------------------------------------------------------------- configs
def distill_settings(path):
    model = Config.fromfile(path).model
    return (model.type, model.kd_temperature, model.kd_loss_weight,
            model.feat_loss_weight, model.cds_loss.loss_weight, model.teacher_checkpoint,
            model.teacher_train_mode)


CIFAR_PRESET = (3.0, 1.0, 0.1, 0.1)  # CIFAR/distill.py: /3, 1, dist * 1e-1, SupCon * 1e-1
# ImageNet/KD_Contrastive_Deep_Supervision/main.py: no temperature, 1, 5e-1, 5e-1
IMAGENET_PRESET = (1.0, 1.0, 0.5, 0.5)


@pytest.mark.parametrize('config, student, teacher, preset', [
    ('resnet18_r50-teacher_1xb128_cifar100', 'resnet18_1xb128_cifar100',
     'resnet50_1xb128_cifar100', CIFAR_PRESET),
    ('resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg', 'resnet18-w16_1xb64_cifar10-jpg',
     'resnet18-w32_1xb64_cifar10-jpg', CIFAR_PRESET),
    ('resnet18_r50-teacher_8xb32_in1k', 'resnet18_8xb32_in1k', 'resnet50_8xb32_in1k',
     IMAGENET_PRESET),
    ('resnet34_r50-teacher_8xb32_in1k', 'resnet34_8xb32_in1k', 'resnet50_8xb32_in1k',
     IMAGENET_PRESET),
    ('resnet50_r101-teacher_8xb32_in1k', 'resnet50_8xb32_in1k', 'resnet101_8xb32_in1k',
     IMAGENET_PRESET),
    # classic KD: the feature and contrastive terms off
    ('resnet18-w16_r18-w32-teacher_kd_1xb64_cifar10-jpg',
     'resnet18-w16_1xb64_cifar10-jpg', 'resnet18-w32_1xb64_cifar10-jpg',
     (3.0, 1.0, 0.0, 0.0)),
])
def test_distill_configs_hold_the_reference_presets(config, student, teacher, preset):
    path = f'configs/distill/{config}.py'
    # teacher_train_mode True: the authors' teacher.train() (tests/test_teacher_mode.py)
    assert distill_settings(path) == ('CDSDistiller', *preset, None, True)
    model = Config.fromfile(path).model
    assert model.teacher_config == f'configs/cds/{teacher}.py'
    # The student is its CDS config's model with the distillation fields added.
    student = Config.fromfile(f'configs/cds/{student}.py').model
    added = {'teacher_config', 'teacher_checkpoint', 'teacher_train_mode',
             'kd_temperature', 'kd_loss_weight', 'feat_loss_weight', 'feat_stages'}
    assert set(model) - set(student) == added
    for field in ('backbone', 'neck', 'head', 'cds_neck'):
        assert model[field] == student[field], field


def test_cifar100_bases_hold_the_reference_recipe():
    cfg = Config.fromfile('configs/cds/resnet18_1xb128_cifar100.py')
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.train_dataloader.dataset.type == 'CIFAR100'
    optimizer = {k: v for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'}
    assert optimizer == dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4)
    assert cfg.param_scheduler.type == 'MultiStepLR'
    assert cfg.param_scheduler.milestones == [90, 180, 280]
    assert cfg.param_scheduler.gamma == 0.1 and cfg.train_cfg.max_epochs == 300
    assert cfg.model.backbone.type == 'ResNet_CIFAR' and cfg.model.head.num_classes == 100
    assert cfg.data_preprocessor.std == [51.5865, 50.847, 51.255]
    assert cfg.data_preprocessor.to_rgb is False  # the data set yields RGB


def write_tiny_cifar100(root, counts=dict(train=8, test=4)):
    """cifar-100-python/{train,test,meta} pickles as the real archive holds them."""
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in counts.items():
        with open(folder / split, 'wb') as f:
            pickle.dump(dict(data=rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                             fine_labels=[(7 * i) % 100 for i in range(count)],
                             coarse_labels=[0] * count,
                             filenames=[f'{i}.png' for i in range(count)]), f)
    with open(folder / 'meta', 'wb') as f:
        pickle.dump(dict(fine_label_names=[f'c{i}' for i in range(100)],
                         coarse_label_names=[f'g{i}' for i in range(20)]), f)


def test_cifar100_two_views_train_the_cds_student(tmp_path, monkeypatch):
    from mmengine.runner import Runner
    from mmpretrain.datasets import CIFAR100
    # The tiny copy has other checksums than the real archive.
    monkeypatch.setattr(CIFAR100, 'train_list', [['train', None]])
    monkeypatch.setattr(CIFAR100, 'test_list', [['test', None]])
    write_tiny_cifar100(tmp_path)
    cfg = Config.fromfile('configs/cds/resnet18_1xb128_cifar100.py')
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.data_root = str(tmp_path)
    data = next(iter(Runner.build_dataloader(loader_cfg)))
    assert [tuple(v.shape) for v in data['inputs']] == [(4, 3, 32, 32)] * 2
    labels = [s.gt_label.item() for s in data['data_samples']]  # shuffled
    assert len(set(labels)) == 4 and set(labels) <= {7 * i for i in range(8)}
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    losses = model.loss(**model.data_preprocessor(data, True))
    assert sorted(losses) == ['loss'] + [f'loss_cds_stage{k}' for k in (1, 2, 3, 4)]
    assert all(torch.isfinite(v) for v in losses.values())


# ----------------------------------------------------------- distributed, tools
def test_distiller_trains_on_two_gloo_ranks(tmp_path, cifar10_root):
    """tools/train.py --launcher pytorch on two ranks, as tools/dist_train.sh starts
    it (that script is run once, on a CDS config, in test_tools_cli.py)."""
    if torch.cuda.is_available():
        pytest.skip('checks the gloo fallback of machines without CUDA')
    teacher_cfg = Config.fromfile(Config.fromfile(CIFAR10_DISTILL).model.teacher_config)
    teacher_path = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=MODELS.build(teacher_cfg.model).state_dict()),
               teacher_path)
    work_dir = str(tmp_path / 'dist')
    output = dist_train_in_forked_processes(
        CIFAR10_DISTILL, work_dir, f'model.teacher_checkpoint={teacher_path}',
        f'train_dataloader.dataset.data_root={cifar10_root}',
        f'val_dataloader.dataset.data_root={cifar10_root}',
        'train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=4',
        'val_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'default_hooks.logger.interval=1')
    # 16 images over 2 ranks of batch 4: 2 iterations per rank
    assert 'Epoch(train) [1][2/2]' in output and 'Epoch(train) [1][3/' not in output
    for key in ('loss_kd', 'loss_feat_stage1', 'loss_cds_stage4', 'accuracy/top1'):
        assert key in output, key
    state_dict = load_checkpoint_file(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    student = MODELS.build(Config.fromfile(
        'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py').model)
    adapters = {k for k in state_dict if k.startswith('feat_adapters.')}
    assert adapters and set(state_dict) == set(student.state_dict()) | adapters
