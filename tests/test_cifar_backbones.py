"""The CIFAR-style backbones: stems, blocks against hand formulas, and parameter counts
against torchvision's ImageNet networks (same stages, different stem)."""
import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401

ALL_STAGES = (0, 1, 2, 3)


def count(module):
    return sum(p.numel() for p in module.parameters())


def build(**cfg):
    return MODELS.build(dict(out_indices=ALL_STAGES, **cfg))


def torchvision_stages(net):
    """Parameters of a torchvision ResNet's residual stages (no stem, no fc)."""
    return sum(count(getattr(net, f'layer{i}')) for i in range(1, 5))


@pytest.mark.parametrize('ours, theirs', [
    (dict(type='ResNeXt_CIFAR', depth=50, groups=32, width_per_group=4),
     torchvision.models.resnext50_32x4d),
    (dict(type='ResNet_CIFAR', depth=50, base_channels=128, expansion=2),
     torchvision.models.wide_resnet50_2),
])
def test_stages_match_torchvision_and_the_stem_is_cifar(ours, theirs):
    backbone = build(**ours)
    reference = theirs()
    assert count(backbone) - count(backbone.conv1) - count(backbone.norm1) == \
        torchvision_stages(reference)
    assert backbone.conv1.kernel_size == (3, 3) and backbone.conv1.stride == (1, 1)
    assert not hasattr(backbone, 'maxpool')
    with torch.no_grad():
        outs = backbone(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 32, 32), (512, 16, 16),
                                                  (1024, 8, 8), (2048, 4, 4)]


def se_params(channels):
    """SELayer(c, ratio 16): 1x1 convs c -> s -> c with biases, s = c / 16 rounded to
    a multiple of 8, at least 8 (mmpretrain's make_divisible)."""
    squeeze = max(8, int(channels / 16 + 4) // 8 * 8)
    return 2 * channels * squeeze + squeeze + channels


def test_se_resnet18_is_resnet18_plus_one_se_layer_per_block():
    se = build(type='SEResNet_CIFAR', depth=18)
    plain = build(type='ResNet_CIFAR', depth=18)
    assert count(se) - count(plain) == sum(2 * se_params(c) for c in (64, 128, 256, 512))
    assert se.conv1.kernel_size == (3, 3)
    assert count(build(type='SEResNet_CIFAR', depth=50)) - count(
        build(type='ResNet_CIFAR', depth=50)) == sum(
            n * se_params(c) for n, c in zip((3, 4, 6, 3), (256, 512, 1024, 2048)))


def test_se_basic_block_forward_matches_its_formula():
    block = build(type='SEResNet_CIFAR', depth=18, base_channels=8,
                  stem_channels=8).layer2[0].eval()
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        branch = block.norm2(block.conv2(F.relu(block.norm1(block.conv1(x)))))
        # SELayer's ConvModules: 1x1 conv + ReLU, then 1x1 conv + sigmoid.
        squeezed = F.relu(F.conv2d(F.adaptive_avg_pool2d(branch, 1),
                                   block.se_layer.conv1.conv.weight,
                                   block.se_layer.conv1.conv.bias))
        scale = torch.sigmoid(F.conv2d(squeezed, block.se_layer.conv2.conv.weight,
                                       block.se_layer.conv2.conv.bias))
        expected = F.relu(branch * scale + block.downsample(x))
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_preact_resnet18_blocks_stem_and_final_norm():
    net = build(type='PreActResNet_CIFAR', depth=18)
    net.eval()  # mmpretrain's ResNet.train returns None
    plain = build(type='ResNet_CIFAR', depth=18)
    # The plain CIFAR ResNet-18 minus its stem BN and the 3 shortcut BNs, with the
    # first norm of each stage's first block on its input channels, plus a final BN.
    assert count(net) == count(plain) - 2 * 64 - 2 * (128 + 256 + 512) \
        - 2 * (64 + 128 + 256) + 2 * 512
    assert not hasattr(net, 'norm1') and isinstance(net.layer2[0].downsample,
                                                     torch.nn.Conv2d)
    block = net.layer2[0]
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        act = F.relu(block.norm1(x))
        expected = block.conv2(F.relu(block.norm2(block.conv1(act)))) \
            + block.downsample(act)
        assert torch.allclose(block(x), expected, atol=1e-6)
        image = torch.randn(1, 3, 32, 32)
        outs = net(image)
        x = net.conv1(image)
        for name in ('layer1', 'layer2', 'layer3', 'layer4'):
            x = getattr(net, name)(x)
        assert torch.allclose(outs[3], F.relu(net.final_norm(x)), atol=1e-6)
        assert torch.allclose(outs[2], net.layer3(net.layer2(net.layer1(
            net.conv1(image)))), atol=1e-6)


@pytest.mark.parametrize('cfg, field', [
    (dict(type='ResNeXt_CIFAR', depth=50, deep_stem=True), 'ResNeXt_CIFAR.deep_stem'),
    (dict(type='SEResNet_CIFAR', depth=18, deep_stem=True), 'SEResNet_CIFAR.deep_stem'),
    (dict(type='PreActResNet_CIFAR', depth=18, frozen_stages=1),
     'PreActResNet_CIFAR.frozen_stages'),
])
def test_unsupported_options_are_refused(cfg, field):
    with pytest.raises(ValueError, match=field):
        MODELS.build(cfg)
