"""NLL, Brier score, temperature scaling, and ECE/MCE against torchmetrics."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401
from mmcds.evaluation import (calibration_bins, fit_temperature, proper_scores,
                              scale_temperature)

# Two 3-class predictions, labels 0 and 1:
#   NLL   = -(ln 0.7 + ln 0.3) / 2
#   Brier = ((0.3^2 + 0.2^2 + 0.1^2) + (0.5^2 + 0.7^2 + 0.2^2)) / 2 = (0.14 + 0.78) / 2
HAND_SCORES = [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2]]
HAND_LABELS = [0, 1]
HAND_NLL = -(math.log(0.7) + math.log(0.3)) / 2
HAND_BRIER = 0.46


def evaluate(scores, labels, **metric_kwargs):
    metric = METRICS.build(dict(type='ExpectedCalibrationError', **metric_kwargs))
    evaluator = Evaluator([METRICS.build(dict(type='Accuracy', topk=(1, ))), metric])
    evaluator.process([
        DataSample().set_gt_label(int(y)).set_pred_score(torch.as_tensor(s))
        for s, y in zip(scores, labels)
    ])
    return evaluator.evaluate(len(labels)), metric


def random_predictions(n=2000, num_classes=10, scale=3., true_temperature=1., seed=0):
    """Softmax of random logits, and labels drawn from softmax(logits / T)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, num_classes, generator=g) * scale
    labels = torch.multinomial(torch.softmax(logits / true_temperature, 1), 1,
                               generator=g).squeeze(1)
    return torch.softmax(logits, 1), labels


def test_nll_and_brier_of_the_hand_case():
    terms = proper_scores(HAND_SCORES, HAND_LABELS)
    assert terms['nll'] == pytest.approx(HAND_NLL)
    assert terms['brier'] == pytest.approx(HAND_BRIER)
    metrics, _ = evaluate(HAND_SCORES, HAND_LABELS, num_bins=5)
    assert metrics['calibration/NLL'] == pytest.approx(HAND_NLL, rel=1e-6)
    assert metrics['calibration/Brier'] == pytest.approx(HAND_BRIER, rel=1e-6)


def test_ece_and_mce_equal_torchmetrics_away_from_bin_edges():
    """torchmetrics bins are [lower, upper) with confidence 1.0 in a bin of its own,
    ours (lower, upper]; on confidences that hit no edge the two agree."""
    torchmetrics = pytest.importorskip('torchmetrics.classification')
    probs, labels = random_predictions()
    confidence, prediction = probs.max(1)
    edges = torch.arange(16) / 15
    assert (confidence[:, None] - edges).abs().min() > 1e-6  # no sample on an edge
    stats = calibration_bins(confidence, prediction == labels, 15)
    for norm, ours in (('l1', stats['ece']), ('max', stats['mce'])):
        reference = torchmetrics.MulticlassCalibrationError(
            num_classes=10, n_bins=15, norm=norm)(probs, labels)
        assert ours == pytest.approx(float(reference), abs=1e-6), norm


def test_bin_edges_differ_from_torchmetrics_as_documented():
    torchmetrics = pytest.importorskip('torchmetrics.classification')
    # With 5 bins: confidence exactly 0.6 (an edge), wrong, and 0.7, right.
    # Ours: 0.6 in (0.4, 0.6] (gap 0.6), 0.7 in (0.6, 0.8] (gap 0.3): ECE 0.45.
    # torchmetrics: both in [0.6, 0.8): acc 0.5, conf 0.65, ECE 0.15.
    probs = torch.tensor([[0.6, 0.4], [0.3, 0.7]], dtype=torch.float64)
    labels = torch.tensor([1, 1])
    ours = calibration_bins([0.6, 0.7], [False, True], 5)['ece']
    assert ours == pytest.approx(0.45)
    reference = torchmetrics.MulticlassCalibrationError(
        num_classes=2, n_bins=5, norm='l1')(probs, labels)
    assert float(reference) == pytest.approx(0.15, abs=1e-6)


@pytest.mark.parametrize('true_temperature', [0.5, 2.5])
def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with(
        true_temperature):
    probs, labels = random_predictions(n=20000, true_temperature=true_temperature)
    fitted = fit_temperature(probs, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    # The fitted T minimises held-out NLL: nudging it either way does worse.
    best = proper_scores(scale_temperature(probs, fitted), labels)['nll']
    for other in (fitted * 0.8, fitted * 1.25):
        assert proper_scores(scale_temperature(probs, other), labels)['nll'] > best


def test_metric_temperature_rescales_scores_and_keeps_top1():
    probs, labels = random_predictions(n=300, scale=6.)
    plain, _ = evaluate(probs, labels, keep_scores=True)
    scaled, metric = evaluate(probs, labels, temperature=3., keep_scores=True)
    assert scaled['accuracy/top1'] == plain['accuracy/top1']
    soft = torch.softmax(torch.log(probs) / 3., 1)
    np.testing.assert_allclose(metric.last_scores, soft.numpy(), atol=1e-6)
    np.testing.assert_array_equal(metric.last_labels, labels.numpy())
    confidence, prediction = soft.max(1)
    expected = calibration_bins(confidence, prediction == labels, 15)
    assert scaled['calibration/ECE'] == pytest.approx(100 * expected['ece'], abs=1e-4)
    assert scaled['calibration/NLL'] == pytest.approx(
        proper_scores(soft, labels)['nll'], rel=1e-5)
    assert scaled['calibration/NLL'] != pytest.approx(plain['calibration/NLL'])


@pytest.mark.parametrize('bad', [0, -1., float('nan'), float('inf')])
def test_metric_refuses_a_bad_temperature(bad):
    with pytest.raises(ValueError, match='ExpectedCalibrationError.temperature'):
        METRICS.build(dict(type='ExpectedCalibrationError', temperature=bad))


def test_fit_temperature_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match='fit_temperature: scores must be'):
        fit_temperature(np.full((3, 2), 0.5), [0, 1])
