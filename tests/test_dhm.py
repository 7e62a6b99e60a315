"""DHM as the ImageNet configs build it: the authors' two branches (d-li14/DHM,
models/imagenet/resnet.py), their loss (imagenet.py --mimic, utils/metric.py), the
earlier approximation two options away, and the measured cost of both."""
import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401

APPROXIMATION = dict(exit_type='resnet', kl_pairs='main')  # configs/_base_/methods/dhm.py
LABELS = [0, 3, 7, 3]


def build(config, **options):
    cfg = Config.fromfile(config)
    cfg.model.update(options)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def samples():
    return [DataSample().set_gt_label(label) for label in LABELS]


def images(size=64):
    return torch.randn(len(LABELS), 3, size, size,
                       generator=torch.Generator().manual_seed(1))


def width(block):
    """The ``planes`` of the authors' _make_layer: the 3x3 convolution's width."""
    return (block.conv2 if hasattr(block, 'conv3') else block.conv1).out_channels


# depth: (blocks, planes) of the stage copies after layer2 (their layer3_head2,
# layer4_head2) and after layer3 (layer4_head1), from ResNet(block, layers,
# branch_layers): resnet18 [[1, 2], [2]], resnet34/50 [[3, 2], [3]]; planes 256 and
# 512, and 1024 for the wide copy.
@pytest.mark.parametrize('depth, low, high', [(18, [1, 2], [2]), (34, [3, 2], [3]),
                                              (50, [3, 2], [3])])
def test_the_authors_branches(depth, low, high):
    model = build(f'configs/dhm/resnet{depth}_8xb32_in1k.py')
    assert type(model).__name__ == 'DHMClassifier'
    assert list(model.exits) == ['stage2', 'stage3']  # after layer2 and layer3
    after_layer2, after_layer3 = model.exits['stage2'].trunk, model.exits['stage3'].trunk
    assert [len(layer) for layer in after_layer2] == low
    assert [len(layer) for layer in after_layer3] == high
    assert [width(layer[0]) for layer in after_layer2] == [256, 512]
    assert [width(layer[0]) for layer in after_layer3] == [1024]
    expansion = 4 if depth == 50 else 1
    assert model.exit_heads['stage2'].fc.in_features == 512 * expansion
    assert model.exit_heads['stage3'].fc.in_features == 1024 * expansion
    model.eval()
    with torch.no_grad():
        stages = model.backbone(images())
        ends = [model.exits[k].trunk(stages[s]).shape[-2:] for s, k in
                zip(model.exit_stages, model.exits)]
    assert ends == [stages[-1].shape[-2:]] * 2  # the trunk's last size, as their avgpool


def reference_kl(logits_q, logits_p, temperature):
    """utils/metric.py KLDivLoss(logits_q, logits_p, T) written out: T^2 times the
    batch mean of sum_c p log(p / q), p = softmax(logits_p / T) the target, both
    smoothed by 1e-8."""
    eps, classes = 1e-8, logits_p.shape[1]
    p = (torch.softmax(logits_p.double() / temperature, 1) + eps) / (1 + classes * eps)
    q = (torch.softmax(logits_q.double() / temperature, 1) + eps) / (1 + classes * eps)
    return temperature**2 * (p * (p / q).log()).sum(1).mean()


def test_loss_is_the_authors_mimicking_loss():
    """CE (weight 1) on each of the 3 classifiers plus alpha * KL for every ordered
    (output, counterpart) pair, counterpart detached: alpha 1, T 1 (their defaults)."""
    model = build('configs/dhm/resnet18_8xb32_in1k.py').eval()  # BN on running stats
    x = images()
    losses = model(x, samples(), mode='loss')
    assert set(losses) == {'loss', 'loss_exit_stage2', 'loss_exit_stage3', 'loss_dhm_kl'}
    labels = torch.tensor(LABELS)
    with torch.no_grad():
        stages = model.backbone(x)
        outputs = [model(x, mode='tensor')] + [
            model.exit_heads[k].fc(model.exits[k](stages[s]))
            for s, k in zip(model.exit_stages, model.exits)]
    ce = [nn.functional.cross_entropy(z, labels).item() for z in outputs]
    assert [losses[k].item() for k in ('loss', 'loss_exit_stage2', 'loss_exit_stage3')] \
        == pytest.approx(ce, rel=1e-5)
    kl = sum(reference_kl(out, other, 1.0) for out in outputs for other in outputs
             if other is not out)
    # rel 1e-4: float32 here, float64 and the 1e-8 smoothing there
    assert losses['loss_dhm_kl'].item() == pytest.approx(kl.item(), rel=1e-4)
    # the targets are detached: the term's gradients are the reference's with
    # output_counterpart.detach() (no gradient through the target side)
    def grads(loss_of):
        model.zero_grad()
        loss_of().backward()
        return [p.grad.clone() for p in (model.head.fc.weight,
                                         model.exit_heads['stage3'].fc.weight)]

    def by_reference():
        stages = model.backbone(x)
        outputs = [model(x, mode='tensor')] + [
            model.exit_heads[k].fc(model.exits[k](stages[s]))
            for s, k in zip(model.exit_stages, model.exits)]
        return sum(reference_kl(out, other.detach(), 1.0) for out in outputs
                   for other in outputs if other is not out)

    ours = grads(lambda: model(x, samples(), mode='loss')['loss_dhm_kl'])
    theirs = grads(by_reference)
    assert all(torch.allclose(a, b.float(), rtol=1e-3, atol=1e-7)
               for a, b in zip(ours, theirs))


def test_the_earlier_approximation_is_two_options_away():
    """exit_type=resnet, kl_pairs=main on the DHM config is the model our ImageNet
    configs trained before: `dhm_style` (DKSClassifier) with the same weights and
    losses (the KL logged as loss_dhm_kl)."""
    ours = build('configs/dhm/resnet18_8xb32_in1k.py', **APPROXIMATION)
    cfg = Config.fromfile('configs/dhm/resnet18_8xb32_in1k.py')
    before = Config.fromfile('configs/ce/resnet18_8xb32_in1k.py')
    before.merge_from_dict(dict(model=cfg.dhm_style.to_dict()))  # `model = dhm_style`
    torch.manual_seed(0)
    previous = MODELS.build(before.model)
    assert type(previous).__name__ == 'DKSClassifier'
    assert list(ours.exits) == ['stage1', 'stage2', 'stage3']
    theirs = previous.state_dict()
    assert ours.state_dict().keys() == theirs.keys()
    assert all(torch.equal(v, theirs[k]) for k, v in ours.state_dict().items())
    ours.eval(), previous.eval()
    with torch.no_grad():
        a, b = ours(images(), samples(), mode='loss'), previous(images(), samples(),
                                                                mode='loss')
    b['loss_dhm_kl'] = b.pop('loss_dks_kl')
    assert {k: v.item() for k, v in a.items()} == {k: v.item() for k, v in b.items()}


class Branches(nn.Module):
    """The training-only forward: backbone, every branch and its classifier."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        stages = self.model.backbone(x)
        return [self.model.exit_heads[k].fc(self.model.exits[k](stages[s]))
                for s, k in zip(self.model.exit_stages, self.model.exits)]


def branch_gflops(model, size=224):
    def total(module):
        with torch.no_grad():
            return FlopAnalyzer(module, (torch.zeros(1, 3, size, size), )) \
                .unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()
    return (total(Branches(model)) - total(model.backbone)) / 1e9


@pytest.mark.parametrize('options, gflops', [({}, 1.698), (APPROXIMATION, 2.059)])
def test_branch_cost_in_the_readme(options, gflops):
    """configs/dhm/README.md's ResNet-18 row (FlopAnalyzer, one multiply-add per FLOP,
    224 px, per image, forward)."""
    model = build('configs/dhm/resnet18_8xb32_in1k.py', **options).eval()
    assert branch_gflops(model) == pytest.approx(gflops, abs=0.0005)


@pytest.mark.parametrize('options, message', [
    (dict(exit_stages=(0, 1, 2)), r"exit_stages=\(0, 1, 2\): exit_type='dhm'"),
    (dict(branch_blocks=((1, ), (2, ))), r'branch_blocks=.*give \(\(n_a, n_b\)'),
    (dict(width_factor=0), 'width_factor: must be an integer >= 1'),
    (dict(backbone=dict(depth=18, out_indices=(3, ))), 'out_indices'),
])
def test_wrong_settings_name_the_field(options, message):
    cfg = Config.fromfile('configs/dhm/resnet18_8xb32_in1k.py')
    model = dict(cfg.model)
    for key, value in options.items():
        model[key] = dict(model[key], **value) if isinstance(value, dict) else value
    with pytest.raises(ValueError, match=message):
        MODELS.build(model)
