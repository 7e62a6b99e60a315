"""DSNClassifier, DKSClassifier and SelfConClassifier: loss keys and values against
hand-written formulas, gradients, inference and checkpoint compatibility, errors."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401
from conftest import supcon_by_loops

# Narrow CIFAR ResNet-18: stage channels (8, 16, 32, 64).
BACKBONE = dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8,
                out_indices=(0, 1, 2, 3))
HEAD = dict(type='LinearClsHead', num_classes=5, in_channels=64,
            loss=dict(type='CrossEntropyLoss'))
LABELS = [0, 1, 0, 2, 4, 1]


def build(type_, **kwargs):
    cfg = dict(type=type_, backbone=BACKBONE, neck=dict(type='GlobalAveragePooling'),
               head=HEAD)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg))


def batch(n=len(LABELS), size=16, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=gen)


def samples(labels=LABELS):
    return [DataSample().set_gt_label(int(label)) for label in labels]


def grad_norm(module):
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return sum(float(g.abs().sum()) for g in grads)


# ----------------------------------------------------------------------------- DSN
def test_dsn_loss_values_match_weighted_cross_entropy():
    model = build('DSNClassifier', exit_loss_weight=[0.1, 0.2, 0.5]).eval()
    x, labels = batch(), torch.tensor(LABELS)
    losses = model(x, samples(), mode='loss')
    assert set(losses) == {'loss', 'loss_exit_stage1', 'loss_exit_stage2',
                           'loss_exit_stage3'}
    # Main loss: plain CE of the logits ImageClassifier's tensor mode gives.
    main_logits = model(x, mode='tensor')
    assert main_logits.shape == (6, 5)
    assert torch.allclose(losses['loss'], F.cross_entropy(main_logits, labels))
    stage_feats = model.backbone(x)
    for stage, weight in zip((0, 1, 2), (0.1, 0.2, 0.5)):
        key = f'stage{stage + 1}'
        pooled = model.exits[key](stage_feats[stage])
        assert pooled.shape == (6, 64)  # SepConv path ends at the last stage's width
        logits = pooled @ model.exit_heads[key].fc.weight.t() \
            + model.exit_heads[key].fc.bias
        assert torch.allclose(losses[f'loss_exit_{key}'],
                              weight * F.cross_entropy(logits, labels), atol=1e-6)


def test_dsn_gradients_reach_every_aux_head_and_the_early_stages():
    model = build('DSNClassifier')
    losses = model(batch(), samples(), mode='loss')
    sum(losses.values()).backward()
    for key in ('stage1', 'stage2', 'stage3'):
        assert grad_norm(model.exits[key]) > 0, key
        assert grad_norm(model.exit_heads[key]) > 0, key
    assert grad_norm(model.head) > 0

    # The stage-1 classifier alone trains layer1 but never touches later layers.
    model.zero_grad(set_to_none=True)
    model(batch(), samples(), mode='loss')['loss_exit_stage1'].backward()
    assert grad_norm(model.backbone.layer1) > 0
    assert grad_norm(model.backbone.layer2) == 0
    assert grad_norm(model.head) == 0


def test_dsn_checkpoint_loads_into_a_plain_classifier_with_same_predictions():
    model = build('DSNClassifier').eval()
    plain = MODELS.build(dict(type='ImageClassifier',
                              backbone=dict(BACKBONE, out_indices=(3, )),
                              neck=dict(type='GlobalAveragePooling'),
                              head=HEAD)).eval()
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith(('exits.', 'exit_heads.'))}
    assert any(k.startswith('exit_heads.stage1.fc.') for k in model.state_dict())
    plain.load_state_dict(state, strict=True)
    x = batch()
    with torch.no_grad():
        ours = model(x, samples(), mode='predict')
        theirs = plain(x, samples(), mode='predict')
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.pred_score, b.pred_score, atol=1e-6)
        assert 'pred_score' in a and math.isclose(float(a.pred_score.sum()), 1,
                                                  rel_tol=1e-5)


@pytest.mark.parametrize('exit_type, channels', [('pool', (8, 16, 32)),
                                                 ('fc', (64, 64, 64)),
                                                 ('resnet', (64, 64, 64))])
def test_dsn_other_exit_types(exit_type, channels):
    model = build('DSNClassifier', exit_type=exit_type)
    assert tuple(e.out_channels for e in model.exits.values()) == channels
    losses = model(batch(), samples(), mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())


def test_dsn_errors_name_the_field():
    with pytest.raises(ValueError, match='exit_loss_weight has 2 entries'):
        build('DSNClassifier', exit_loss_weight=[0.1, 0.2])
    with pytest.raises(ValueError, match='exit_stages'):
        build('DSNClassifier', exit_stages=(3, ))
    with pytest.raises(ValueError, match='out_indices'):
        build('DSNClassifier', backbone=dict(BACKBONE, out_indices=(3, )))
    with pytest.raises(ValueError, match='exit_type'):
        build('DSNClassifier', exit_type='transformer')


# ----------------------------------------------------------------------------- DKS
def hand_kl(logits, temperature, pairs, reduction='sum'):
    """T^2 * (sum or mean) over pairs (student i, teacher j) of batch-mean
    KL(p_j || p_i)."""
    total = 0.
    for i, j in pairs:
        p_i = F.softmax(logits[i] / temperature, dim=1)
        p_j = F.softmax(logits[j] / temperature, dim=1)
        total += (p_j * (p_j.log() - p_i.log())).sum(dim=1).mean()
    if reduction == 'mean':
        total = total / len(pairs)
    return temperature**2 * total


def test_dks_knowledge_matching_matches_hand_formula():
    model = build('DKSClassifier', kl_temperature=2.0, kl_loss_weight=0.5)
    gen = torch.Generator().manual_seed(0)
    logits = [torch.randn(4, 5, generator=gen) * 3 for _ in range(3)]
    all_pairs = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    expected = 0.5 * hand_kl(logits, 2.0, all_pairs)
    assert torch.allclose(model.knowledge_matching_loss(logits), expected, atol=1e-6)
    # 'main' (DHM-style): only the pairs with the last (main) classifier.
    model.kl_pairs = 'main'
    main_pairs = [(0, 2), (1, 2), (2, 0), (2, 1)]
    expected = 0.5 * hand_kl(logits, 2.0, main_pairs)
    assert torch.allclose(model.knowledge_matching_loss(logits), expected, atol=1e-6)
    # Our variant: the mean over the pairs.
    model.kl_reduction = 'mean'
    expected = 0.5 * hand_kl(logits, 2.0, main_pairs, 'mean')
    assert torch.allclose(model.knowledge_matching_loss(logits), expected, atol=1e-6)
    # Agreeing classifiers cost nothing.
    same = [logits[0]] * 3
    assert float(model.knowledge_matching_loss(same)) == pytest.approx(0, abs=1e-7)


def test_dks_defaults_are_the_authors_definition():
    """CE weight 1 on every classifier; KL at T = 1 summed over all 12 ordered pairs
    of the 4 classifiers, weight 1."""
    model = build('DKSClassifier').eval()
    assert (model.kl_temperature, model.kl_reduction, model.kl_pairs) == (1.0, 'sum',
                                                                         'all')
    x, labels = batch(), torch.tensor(LABELS)
    losses = model(x, samples(), mode='loss')
    stage_feats = model.backbone(x)
    logits = []
    for stage in (0, 1, 2):
        key = f'stage{stage + 1}'
        logits.append(model.exit_heads[key]((model.exits[key](stage_feats[stage]), )))
        assert torch.allclose(losses[f'loss_exit_{key}'],
                              F.cross_entropy(logits[-1], labels), atol=1e-6)
    logits.append(model(x, mode='tensor'))
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    assert len(pairs) == 12
    assert torch.allclose(losses['loss_dks_kl'], hand_kl(logits, 1.0, pairs),
                          atol=1e-5)


def test_dks_loss_keys_and_gradients():
    model = build('DKSClassifier')
    losses = model(batch(), samples(), mode='loss')
    assert set(losses) == {'loss', 'loss_exit_stage1', 'loss_exit_stage2',
                           'loss_exit_stage3', 'loss_dks_kl'}
    assert float(losses['loss_dks_kl']) > 0
    losses['loss_dks_kl'].backward()
    # The synergy term alone trains every classifier (each is a student once).
    for key in ('stage1', 'stage2', 'stage3'):
        assert grad_norm(model.exit_heads[key]) > 0, key
    assert grad_norm(model.head) > 0
    assert grad_norm(model.backbone.layer1) > 0


def test_dks_detached_target_gets_no_gradient_from_its_own_teaching():
    model = build('DKSClassifier', kl_pairs='main')
    student = torch.randn(4, 5, requires_grad=True)
    main = torch.randn(4, 5, requires_grad=True)
    # With detach_target, main's gradient comes only from the (main <- student) term,
    # so it equals the gradient of that term alone.
    model.knowledge_matching_loss([student, main]).backward()
    grad_main = main.grad.clone()
    main.grad = None
    t = model.kl_temperature
    one_term = model.kl_loss_weight * t**2 * F.kl_div(
        F.log_softmax(main / t, 1), F.log_softmax(student.detach() / t, 1),
        reduction='batchmean', log_target=True)
    one_term.backward()
    assert torch.allclose(grad_main, main.grad, atol=1e-6)


def test_dks_errors():
    with pytest.raises(ValueError, match='kl_pairs'):
        build('DKSClassifier', kl_pairs='neighbours')
    with pytest.raises(ValueError, match='kl_temperature'):
        build('DKSClassifier', kl_temperature=0)
    with pytest.raises(ValueError, match='DKSClassifier.kl_reduction'):
        build('DKSClassifier', kl_reduction='max')


# ------------------------------------------------------------------------- SelfCon
def test_selfcon_default_is_one_resnet_exit_after_layer2():
    model = build('SelfConClassifier')
    assert model.exit_stages == (1, )
    assert list(model.exits) == ['stage2']
    trunk = model.exits['stage2'].trunk
    # Its own layer3-like and layer4-like residual stages, initialised afresh.
    assert len(trunk) == 2
    assert trunk[0][0].conv1.in_channels == 16 and trunk[1][-1].conv2.out_channels == 64
    assert trunk[0][0].conv1.weight.data_ptr() != \
        model.backbone.layer3[0].conv1.weight.data_ptr()
    assert not torch.equal(trunk[0][0].conv1.weight, model.backbone.layer3[0].conv1.weight)
    assert set(model.selfcon_projectors) == {'stage2', 'backbone'}
    # The authors' one-stage CEResNet: Linear projectors, the backbone's frozen.
    assert isinstance(model.selfcon_projectors['stage2'], torch.nn.Linear)
    assert not any(p.requires_grad
                   for p in model.selfcon_projectors['backbone'].parameters())
    assert model.selfcon_loss.base_temperature == 0.07


def test_selfcon_loss_keys_and_values():
    model = build('SelfConClassifier').eval()
    x, labels = batch(), torch.tensor(LABELS)
    losses = model(x, samples(), mode='loss')
    assert set(losses) == {'loss', 'loss_selfcon', 'loss_exit_stage2'}
    assert torch.allclose(losses['loss'], F.cross_entropy(model(x, mode='tensor'),
                                                          labels))
    stage_feats = model.backbone(x)
    exit_feat = model.exits['stage2'](stage_feats[1])
    pooled = stage_feats[-1].mean(dim=(2, 3))
    z_exit = F.normalize(model.selfcon_projectors['stage2'](exit_feat), dim=1)
    z_backbone = F.normalize(model.selfcon_projectors['backbone'](pooled), dim=1)
    assert z_exit.shape == (6, 128)
    # The exit's and the backbone's projections of an image are its two "views":
    # 0.8 * SupCon at temperature 0.1, scaled by 0.1 / 0.07 as the authors' ConLoss
    # does, written out anchor by anchor.
    expected = 0.8 * (0.1 / 0.07) * supcon_by_loops(
        torch.stack([z_exit, z_backbone], dim=1).detach(), LABELS, temperature=0.1)
    assert float(losses['loss_selfcon']) == pytest.approx(expected, rel=1e-5)
    exit_logits = model.exit_heads['stage2']((exit_feat, ))
    assert torch.allclose(losses['loss_exit_stage2'],
                          F.cross_entropy(exit_logits, labels), atol=1e-6)


def test_selfcon_gradients():
    model = build('SelfConClassifier')
    losses = model(batch(), samples(), mode='loss')
    losses['loss_selfcon'].backward()
    # The contrastive term trains the exit, both projectors and the shared stages,
    # but not the classifiers.
    assert grad_norm(model.exits['stage2']) > 0
    assert grad_norm(model.selfcon_projectors['stage2']) > 0
    assert grad_norm(model.selfcon_projectors['backbone']) == 0  # frozen
    assert grad_norm(model.backbone.layer1) > 0 and grad_norm(model.backbone.layer4) > 0
    assert grad_norm(model.head) == 0 and grad_norm(model.exit_heads) == 0
    model.zero_grad(set_to_none=True)
    sum(model(batch(), samples(), mode='loss').values()).backward()
    assert grad_norm(model.head) > 0 and grad_norm(model.exit_heads) > 0
    # The two-stage heads, all trained: an option.
    model = build('SelfConClassifier', projector='mlp', freeze_backbone_projector=False)
    assert isinstance(model.selfcon_projectors['backbone'], torch.nn.Sequential)
    model(batch(), samples(), mode='loss')['loss_selfcon'].backward()
    assert grad_norm(model.selfcon_projectors['backbone']) > 0


def test_selfcon_two_exits_and_no_exit_classifier():
    model = build('SelfConClassifier', exit_stages=(0, 1),
                  exit_type='fc', exit_loss_weight=0)
    losses = model(batch(), samples(), mode='loss')
    assert set(losses) == {'loss', 'loss_selfcon'}
    assert len(model.exit_heads) == 0
    model = build('SelfConClassifier', exit_stages=(0, 1),
                  exit_type='sepconv')
    assert set(model(batch(), samples(), mode='loss')) == {
        'loss', 'loss_selfcon', 'loss_exit_stage1', 'loss_exit_stage2'}


def test_selfcon_inference_main_head_or_ensemble():
    model = build('SelfConClassifier', ensemble_exits=True).eval()
    x = batch()
    with torch.no_grad():
        preds = model(x, samples(), mode='predict')
        main = F.softmax(model(x, mode='tensor'), dim=1)
        exit_logits = model.exit_heads['stage2'](
            (model.exits['stage2'](model.backbone(x)[1]), ))
        expected = (main + F.softmax(exit_logits, dim=1)) / 2
        got = torch.stack([p.pred_score for p in preds])
        assert torch.allclose(got, expected, atol=1e-6)
        assert [int(p.pred_label) for p in preds] == expected.argmax(1).tolist()
        model.ensemble_exits = False
        plain = torch.stack([p.pred_score for p in model(x, samples(), mode='predict')])
        assert torch.allclose(plain, main, atol=1e-6)


def test_selfcon_errors():
    model = build('SelfConClassifier')
    with pytest.raises(ValueError, match='one view per image'):
        model([batch(), batch()], samples(), mode='loss')
    with pytest.raises(ValueError, match=r'SelfConClassifier.exit_stages=\(3,\)'):
        build('SelfConClassifier', exit_stages=(3, ))
    with pytest.raises(ValueError, match='SelfConClassifier.exit_stages selects no'):
        build('SelfConClassifier', exit_stages=())
    with pytest.raises(ValueError, match='ensemble_exits'):
        build('SelfConClassifier', ensemble_exits=True, exit_loss_weight=0)
    with pytest.raises(ValueError, match='SelfConClassifier.projector'):
        build('SelfConClassifier', projector='transformer')
    with pytest.raises(ValueError, match='out_indices'):
        build('SelfConClassifier', backbone=dict(BACKBONE, out_indices=(1, 3)))
    # A 'resnet' exit copies the later stages, so every stage must be an output.
    with pytest.raises(ValueError, match=r'out_indices=\(0, 1, 2, 3\)'):
        build('SelfConClassifier', backbone=dict(BACKBONE, out_indices=(1, 3)),
              exit_stages=(0, ))


# ------------------------------------------------------------------------- configs
@pytest.fixture(scope='module')
def ce_config():
    return Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                    'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py'))


@pytest.mark.parametrize('config, keys', [
    ('configs/dsn/resnet18-w16_1xb64_cifar10-jpg.py',
     {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3'}),
    ('configs/dks/resnet18-w16_1xb64_cifar10-jpg.py',
     {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3', 'loss_dks_kl'}),
    ('configs/dhm/resnet18-w16_1xb64_cifar10-jpg.py',
     {'loss', 'loss_exit_stage1', 'loss_exit_stage2', 'loss_exit_stage3', 'loss_dks_kl'}),
    ('configs/selfcon/resnet18-w16_1xb64_cifar10-jpg.py',
     {'loss', 'loss_selfcon', 'loss_exit_stage2'}),
])
def test_cifar_configs_build_and_train_one_step(config, keys, ce_config):
    cfg = Config.fromfile(config)
    ce = ce_config
    # Same data, schedule and seed as the CE baseline.
    for field in ('train_cfg', 'param_scheduler', 'optim_wrapper', 'randomness',
                  'test_evaluator'):
        assert cfg[field] == ce[field], field
    assert cfg.train_dataloader.dataset.pipeline == ce.train_dataloader.dataset.pipeline
    assert [m['type'] for m in cfg.test_evaluator] == ['Accuracy',
                                                       'ExpectedCalibrationError']
    model = MODELS.build(cfg.model)
    losses = model(batch(size=16), samples(), mode='loss')
    assert set(losses) == keys
    assert all(torch.isfinite(v) for v in losses.values())
    stem = model.backbone.conv1.weight
    before = stem.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sum(losses.values()).backward()
    optimizer.step()
    assert not torch.equal(stem, before)


@pytest.mark.parametrize('method', ['ce', 'dsn', 'dks', 'dhm', 'selfcon'])
def test_imagenet_configs_build_and_train_like_cds(method):
    cfg = Config.fromfile(f'configs/{method}/resnet18_8xb32_in1k.py')
    cds = Config.fromfile('configs/cds/resnet18_8xb32_in1k.py')
    for field in ('train_cfg', 'param_scheduler', 'optim_wrapper', 'test_evaluator'):
        assert cfg[field] == cds[field], field
    assert [m['type'] for m in cfg.test_evaluator] == ['Accuracy',
                                                       'ExpectedCalibrationError']
    assert cfg.train_dataloader.batch_size == cds.train_dataloader.batch_size
    if method == 'ce':
        assert cfg.model.type == 'ImageClassifier'
        return
    assert cfg.model.backbone.out_indices == (0, 1, 2, 3)
    model = MODELS.build(cfg.model)
    assert model.stage_channels == (64, 128, 256, 512)
    assert model.head.num_classes == 1000


@pytest.mark.parametrize('depth', [34, 50])
@pytest.mark.parametrize('method', ['ce', 'dsn', 'dks', 'dhm'])
def test_imagenet_r34_r50_baselines_are_r18_with_another_depth(method, depth):
    """The paper's Table 3 baselines: the same 90-epoch recipe, only the network
    changes (like configs/cds/resnet{34,50}_8xb32_in1k.py)."""
    cfg = Config.fromfile(f'configs/{method}/resnet{depth}_8xb32_in1k.py')
    r18 = Config.fromfile(f'configs/{method}/resnet18_8xb32_in1k.py')
    cds = Config.fromfile(f'configs/cds/resnet{depth}_8xb32_in1k.py')
    for field in set(cfg.keys()) - {'model'}:
        assert cfg[field] == r18[field], field
    assert cfg.model.backbone == dict(r18.model.backbone, depth=depth)
    assert cfg.model.head == dict(r18.model.head, in_channels=512 if depth == 34
                                  else 2048)
    assert {k: v for k, v in cfg.model.items() if k not in ('backbone', 'head')} == \
        {k: v for k, v in r18.model.items() if k not in ('backbone', 'head')}
    assert cfg.model.backbone.depth == cds.model.backbone.depth
    assert cfg.model.head.in_channels == cds.model.head.in_channels
