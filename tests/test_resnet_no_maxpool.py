"""The CDS authors' ImageNet ResNet (no stem max-pool) as the *-nomaxpool configs build
it: FLOPs and stage sizes against the authors' network, CDS heads that still end at
the last stage's size, and leaves that differ from mmpretrain's only in the max-pool."""
import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401

# Issue #23's count for the authors' network (ImageNet/Contrastive_Deep_Supervision/
# resnet.py, whose _forward_impl skips self.maxpool) and for mmpretrain's / torchvision's
# with the max-pool, GMAC at 224 px. mmengine's FlopAnalyzer counts one multiply-add as
# one FLOP and also counts BN and the pooling, hence a tolerance of 1 %.
GMAC = {('resnet18', False): 6.90, ('resnet50', False): 16.0,
        ('resnet18', True): 1.81, ('resnet50', True): 4.09}


def build(config, **backbone):
    cfg = Config.fromfile(config)
    cfg.model.backbone.update(backbone)
    return MODELS.build(cfg.model).eval()


@pytest.mark.parametrize('network', ['resnet18', 'resnet50'])
@pytest.mark.parametrize('max_pool', [False, True])
def test_flops_of_the_whole_classifier_at_224(network, max_pool):
    suffix = '' if max_pool else '-nomaxpool'
    model = build(f'configs/ce/{network}{suffix}_8xb32_in1k.py')
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (torch.zeros(1, 3, 224, 224), ))
        flops = analyzer.unsupported_ops_warnings(False).total()
    assert flops / 1e9 == pytest.approx(GMAC[network, max_pool], rel=0.01)


@pytest.mark.parametrize('method', ['ce', 'cds'])
def test_stages_run_at_twice_the_resolution(method):
    """Stage maps 112/56/28/14 for 224 px, as the authors' _forward_impl gives them
    (conv1 stride 2, then layer1 without the max-pool); 56/28/14/7 with it."""
    model = build(f'configs/{method}/resnet18-nomaxpool_8xb32_in1k.py',
                  out_indices=(0, 1, 2, 3))
    assert type(model.backbone).__name__ == 'ResNetNoMaxPool'
    with torch.no_grad():
        stages = model.backbone(torch.zeros(1, 3, 224, 224))
    sizes = [tuple(x.shape[-2:]) for x in stages]
    assert sizes == [(112, 112), (56, 56), (28, 28), (14, 14)]


@pytest.mark.parametrize('depth, channels', [(18, (64, 128, 256, 512)),
                                             (50, (256, 512, 1024, 2048))])
def test_cds_heads_end_at_the_last_stage_size(depth, channels):
    """Every projection head's SepConv chain halves its stage S-1-k times; with the
    stages at 112/56/28/14 each head still ends at 14x14 and the last stage's width,
    as the authors' auxiliary1..4 do before their average pooling."""
    model = build(f'configs/cds/resnet{depth}-nomaxpool_8xb32_in1k.py')
    assert model.stage_channels == channels
    with torch.no_grad():
        stages = model.backbone(torch.zeros(1, 3, 224, 224))
        ends = [tuple(head(x).shape[1:]) for head, x in zip(model.cds_neck.heads, stages)]
        embeddings = model.cds_neck(stages)
    assert [len(head) for head in model.cds_neck.heads] == [3, 2, 1, 0]
    assert ends == [(channels[-1], 14, 14)] * 4
    assert [tuple(z.shape) for z in embeddings] == [(1, channels[-1])] * 4


@pytest.mark.parametrize('method', ['ce', 'cds'])
@pytest.mark.parametrize('depth', [18, 34, 50])
def test_leaves_differ_from_mmpretrain_s_network_only_in_the_max_pool(method, depth):
    variant = Config.fromfile(f'configs/{method}/resnet{depth}-nomaxpool_8xb32_in1k.py')
    plain = Config.fromfile(f'configs/{method}/resnet{depth}_8xb32_in1k.py')
    assert variant.model.backbone.pop('type') == 'ResNetNoMaxPool'
    assert plain.model.backbone.pop('type') == 'ResNet'
    assert variant.to_dict() == plain.to_dict()


def test_same_parameters_as_mmpretrain_s_resnet():
    """The max-pool has no parameters: the state dicts match key for key and shape for
    shape, which is why a checkpoint loads silently into the other network."""
    ours = MODELS.build(dict(type='ResNetNoMaxPool', depth=18)).state_dict()
    theirs = ResNet(depth=18).state_dict()
    assert {k: v.shape for k, v in ours.items()} == \
        {k: v.shape for k, v in theirs.items()}
