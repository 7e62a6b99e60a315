"""ExpectedCalibrationError against hand-computed cases, its registration next to
Accuracy, and the reliability diagram."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401
from mmcds.evaluation import (ExpectedCalibrationError, calibration_bins,
                              plot_reliability_diagram)

# (confidence, correct) with 5 bins (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]:
#   (0, .2]:  0.15 right          acc 1,   conf 0.15,  gap 0.85
#   (.2, .4]: 0.30 wrong          acc 0,   conf 0.30,  gap 0.30
#   (.4, .6]: empty
#   (.6, .8]: 0.70 right, 0.65 right   acc 1, conf 0.675, gap 0.325
#   (.8, 1]:  0.95 right, 0.90 wrong   acc 0.5, conf 0.925, gap 0.425
# ECE = (0.85 + 0.30 + 2 * 0.325 + 2 * 0.425) / 6 = 2.65 / 6; MCE = 0.85
CASE = [(0.95, True), (0.9, False), (0.7, True), (0.65, True), (0.3, False),
        (0.15, True)]
HAND_ECE = 2.65 / 6
NUM_CLASSES = 10


def sample(confidence, correct, label=3):
    """A DataSample whose top-1 probability is ``confidence`` on ``label`` (right)
    or on another class (wrong); the rest is spread evenly."""
    rest = (1 - confidence) / (NUM_CLASSES - 1)
    score = torch.full((NUM_CLASSES, ), rest)
    top = label if correct else (label + 1) % NUM_CLASSES
    score[top] = confidence
    return DataSample().set_gt_label(label).set_pred_score(score)


def test_hand_computed_case_through_the_evaluator_next_to_accuracy():
    evaluator = Evaluator([
        METRICS.build(dict(type='Accuracy', topk=(1, ))),
        METRICS.build(dict(type='ExpectedCalibrationError', num_bins=5)),
    ])
    evaluator.process([sample(c, ok) for c, ok in CASE])
    metrics = evaluator.evaluate(len(CASE))
    assert set(metrics) == {'accuracy/top1', 'calibration/ECE', 'calibration/MCE',
                            'calibration/NLL', 'calibration/Brier'}
    assert metrics['accuracy/top1'] == pytest.approx(100 * 4 / 6, abs=1e-4)
    assert metrics['calibration/ECE'] == pytest.approx(100 * HAND_ECE, abs=1e-4)
    assert metrics['calibration/MCE'] == pytest.approx(85., abs=1e-4)


def test_bins_statistics_of_the_hand_case():
    stats = calibration_bins([c for c, _ in CASE], [ok for _, ok in CASE], 5)
    np.testing.assert_allclose(stats['edges'], [0, .2, .4, .6, .8, 1])
    np.testing.assert_array_equal(stats['counts'], [1, 1, 0, 2, 2])
    np.testing.assert_allclose(stats['accuracy'], [1, 0, 0, 1, .5])
    np.testing.assert_allclose(stats['confidence'], [.15, .3, 0, .675, .925])
    assert stats['ece'] == pytest.approx(HAND_ECE)


def test_bin_edges_are_lower_open_upper_closed():
    # 0.6 lies in (0.4, 0.6]; 0.6 + 1e-9 in (0.6, 0.8]; 0 in the first bin; 1 in the last.
    stats = calibration_bins([0.6, 0.6 + 1e-9, 0., 1.], [1, 1, 1, 1], 5)
    np.testing.assert_array_equal(stats['counts'], [1, 0, 1, 1, 1])


def test_perfect_calibration_is_zero_and_matches_a_loop_reference():
    # 4 predictions at 75% confidence, 3 right: perfectly calibrated.
    assert calibration_bins([.75] * 4, [1, 1, 1, 0], 15)['ece'] == pytest.approx(0)

    rng = np.random.default_rng(0)
    conf = rng.uniform(0.1, 1, 500)
    correct = rng.uniform(size=500) < conf ** 2  # over-confident on purpose
    reference = 0.
    for b in range(15):
        lower, upper = b / 15, (b + 1) / 15
        in_bin = (conf > lower) & (conf <= upper)
        if in_bin.any():
            reference += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    assert calibration_bins(conf, correct, 15)['ece'] == pytest.approx(reference)
    assert reference > 0.05


def test_default_bins_prefix_and_errors():
    metric = ExpectedCalibrationError()
    assert metric.num_bins == 15 and metric.prefix == 'calibration'
    assert ExpectedCalibrationError(prefix='cal').prefix == 'cal'
    with pytest.raises(ValueError, match='num_bins'):
        ExpectedCalibrationError(num_bins=0)
    with pytest.raises(ValueError, match='pred_score'):
        metric.process(None, [DataSample().set_gt_label(1).set_pred_label(1)])
    with pytest.raises(ValueError, match='gt_label'):
        metric.process(None, [DataSample().set_pred_score(torch.tensor([0.3, 0.7]))])
    with pytest.raises(ValueError, match='logits'):
        calibration_bins([1.5, 0.2], [1, 0])
    with pytest.raises(ValueError, match='entries'):
        calibration_bins([0.5, 0.2], [1])


def test_reliability_diagram_png_and_cli(tmp_path):
    conf = [c for c, _ in CASE]
    correct = [ok for _, ok in CASE]
    out = tmp_path / 'reliability.png'
    stats = plot_reliability_diagram(conf, correct, str(out), num_bins=5, title='case')
    assert stats['ece'] == pytest.approx(HAND_ECE)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    # From predictions dumped by tools/test.py --out (dicts with pred_score, gt_label).
    import mmengine

    from conftest import load_tool
    main = load_tool('analysis_tools/reliability_diagram').main
    dumped = [sample(c, ok).to_dict() for c, ok in CASE]
    mmengine.dump(dumped, str(tmp_path / 'preds.pkl'))
    main([str(tmp_path / 'preds.pkl'), '--out', str(tmp_path / 'cli.png'),
          '--num-bins', '5'])
    assert (tmp_path / 'cli.png').read_bytes()[:4] == b'\x89PNG'
