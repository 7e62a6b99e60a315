"""The paper-recipe ImageNet configs initialise the residual branches as the CDS
authors do (zero_init_residual=False: every BN weight starts at 1), CE and the
deep-supervision methods alike; mmpretrain's zero-initialised branches are one option
away."""
import glob

import pytest
import torch
from mmengine.config import Config
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401

PAPER_RECIPE = sorted(
    path for method in ('ce', 'cds', 'dsn', 'dks', 'dhm', 'selfcon', 'distill')
    for path in glob.glob(f'configs/{method}/*_in1k*.py'))


def test_every_method_s_imagenet_configs_are_covered():
    assert {p.split('/')[1] for p in PAPER_RECIPE} == {
        'ce', 'cds', 'dsn', 'dks', 'dhm', 'selfcon', 'distill'}


@pytest.mark.parametrize('config', PAPER_RECIPE)
def test_config_keeps_the_authors_residual_init(config):
    model = Config.fromfile(config).model
    assert model.backbone.zero_init_residual is False
    if model.type == 'CDSDistiller':  # its teacher is trained by a config like these
        teacher = Config.fromfile(model.teacher_config).model
        assert teacher.backbone.zero_init_residual is False


def last_norms(backbone):
    """The last BN weight of every residual branch (BasicBlock norm2, Bottleneck
    norm3)."""
    return [m.norm3.weight if isinstance(m, Bottleneck) else m.norm2.weight
            for m in backbone.modules() if isinstance(m, (BasicBlock, Bottleneck))]


@pytest.mark.parametrize('config', ['configs/ce/resnet18_8xb32_in1k.py',
                                    'configs/cds/resnet50_8xb32_in1k.py'])
def test_initialised_weights(config):
    """After the runner's init_weights every backbone BN weight is 1, as the authors'
    ResNet.__init__ leaves it (nn.init.constant_(m.weight, 1), no zero-init pass);
    --cfg-options model.backbone.zero_init_residual=True zeroes the last BN of every
    residual branch (mmpretrain's default)."""
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    norms = [m.weight for m in model.backbone.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(bool((w == 1).all()) for w in norms)

    cfg.merge_from_dict({'model.backbone.zero_init_residual': True})
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert all(bool((w == 0).all()) for w in last_norms(model.backbone))
