"""DKS and DHM as their configs build them: the settings that make each what it is,
and the model-level knowledge-matching term against an independent computation over
the model's own exits."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401

LABELS = [0, 3, 1, 3, 9, 2]


def build_from_config(path):
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def kl_by_hand(logits, temperature, pairs):
    """Sum over ordered (student i, teacher j) pairs of the batch-mean
    KL(p_j || p_i), p = softmax(z / T), written with plain tensor arithmetic."""
    total = 0.
    for i, j in pairs:
        p_j = torch.softmax(logits[j] / temperature, dim=1)
        p_i = torch.softmax(logits[i] / temperature, dim=1)
        total += float((p_j * (p_j.log() - p_i.log())).sum(dim=1).mean())
    return total


@pytest.mark.parametrize('config, exit_type, kl_pairs', [
    ('configs/dks/resnet18-w16_1xb64_cifar10-jpg.py', 'sepconv', 'all'),
    ('configs/dhm/resnet18-w16_1xb64_cifar10-jpg.py', 'resnet', 'main'),
])
def test_config_builds_the_method_and_its_kl_term(config, exit_type, kl_pairs):
    model = build_from_config(config)
    assert type(model).__name__ == 'DKSClassifier'
    assert model.exit_stages == (0, 1, 2)
    assert {e.exit_type for e in model.exits.values()} == {exit_type}
    assert model.kl_pairs == kl_pairs
    # The authors' definition (Sun et al., 2019): CE weight 1 on every classifier,
    # KL at T = 1 summed over ordered pairs, targets detached.
    assert model.exit_loss_weights == (1.0, 1.0, 1.0)
    assert (model.kl_temperature, model.kl_loss_weight, model.kl_reduction,
            model.detach_target) == (1.0, 1.0, 'sum', True)

    model.eval()  # the same BN statistics for the loss and the hand computation
    x = torch.randn(len(LABELS), 3, 32, 32, generator=torch.Generator().manual_seed(1))
    samples = [DataSample().set_gt_label(label) for label in LABELS]
    with torch.no_grad():
        losses = model(x, samples, mode='loss')
        stage_feats = model.backbone(x)
        logits = [model.exit_heads[key].fc(model.exits[key](stage_feats[stage]))
                  for stage, key in zip((0, 1, 2), ('stage1', 'stage2', 'stage3'))]
        logits.append(model(x, mode='tensor'))
    main = 3
    pairs = [(i, j) for i, j in itertools.permutations(range(4), 2)
             if kl_pairs == 'all' or main in (i, j)]
    assert len(pairs) == {'all': 12, 'main': 6}[kl_pairs]
    assert float(losses['loss_dks_kl']) == pytest.approx(
        kl_by_hand(logits, 1.0, pairs), rel=1e-4)
    assert float(losses['loss_exit_stage2']) == pytest.approx(
        float(F.cross_entropy(logits[1], torch.tensor(LABELS))), rel=1e-5)
