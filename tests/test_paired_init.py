"""Same seed, same start: every method's backbone and head begin where CE's do.

The extra modules (exits, projection heads) are built on a random stream of their
own (MultiExitClassifier.auxiliary_rng), so a comparison over seeds is paired in
the initialisation as well as in the data order."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import set_random_seed
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401  registers the classifiers
from mmcds.experiments.comparison import METHOD_CONFIGS

METHODS = ['ce', 'cds', 'dsn', 'dks', 'dhm', 'selfcon']


def initialised(method: str, seed: int) -> dict:
    """Build a method's CIFAR model as the runner does (seed, build, init_weights)."""
    model_cfg = Config.fromfile(METHOD_CONFIGS[method]).model
    set_random_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return {k: v for k, v in model.state_dict().items()
            if k.startswith(('backbone.', 'neck.', 'head.'))}


@pytest.fixture(scope='module')
def ce_seed3():
    return initialised('ce', 3)


@pytest.mark.parametrize('method', METHODS[1:])
def test_backbone_and_head_start_where_ce_starts(method, ce_seed3):
    state = initialised(method, 3)
    assert set(state) == set(ce_seed3)
    for key, value in ce_seed3.items():
        assert torch.equal(state[key], value), f'{method}: {key}'


def test_another_seed_starts_elsewhere_and_extra_modules_differ_per_block(ce_seed3):
    other = initialised('ce', 4)
    assert not torch.equal(other['backbone.conv1.weight'],
                           ce_seed3['backbone.conv1.weight'])
    # The two auxiliary blocks of SelfCon (exits, projectors) draw from different
    # streams: same-shaped first layers get different weights.
    set_random_seed(3)
    model = MODELS.build(Config.fromfile(METHOD_CONFIGS['selfcon']).model)
    assert model._auxiliary_blocks == 2
    exit_head = model.exit_heads['stage2'].fc.weight
    projector = model.selfcon_projectors['stage2'].weight
    assert not torch.equal(exit_head.flatten()[:16], projector.flatten()[:16])
