"""Reliability diagrams (Guo et al., ICML 2017; DeGroot & Fienberg, 1983).

From Python::

    from mmcds.evaluation import plot_reliability_diagram
    plot_reliability_diagram(confidences, correct, 'reliability.png', num_bins=15)

From the predictions ``tools/test.py CONFIG CKPT --out preds.pkl`` dumps::

    python tools/analysis_tools/reliability_diagram.py preds.pkl --out reliability.png
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .metrics.expected_calibration_error import ArrayLike, calibration_bins


def plot_reliability_diagram(confidences: ArrayLike,
                             correct: ArrayLike,
                             out_file: Optional[str] = None,
                             num_bins: int = 15,
                             title: Optional[str] = None,
                             ax=None) -> dict:
    """Draw a reliability diagram and return the calibration statistics.

    Draw accuracy against confidence per equal-width bin (blue bars), the gap between
    each bin's accuracy and its mean confidence (red, hatched: ``|acc(B_b) -
    conf(B_b)|``, whose count-weighted mean is the ECE) and the diagonal (perfect
    calibration). The number of predictions in each bin is written on the top axis:
    a bin of a few predictions can show a large gap and still weigh little in the ECE.

    Args:
        confidences: (n,) top-1 probabilities; correct: (n,) bools.
        out_file (str, optional): PNG to write (only when ``ax`` is None).
        num_bins (int): bins, as in ``ExpectedCalibrationError``. Defaults to 15.
        title (str, optional): axes title.
        ax (matplotlib Axes, optional): draw into these axes (e.g. one panel of a
            grid) instead of a new figure.

    Returns:
        dict: the statistics of :func:`calibration_bins` (``ece`` as a fraction).
    """
    # A bare Figure renders through Agg and leaves pyplot's global state (and the
    # user's backend) alone.
    from matplotlib.figure import Figure

    stats = calibration_bins(confidences, correct, num_bins)
    edges, counts = stats['edges'], stats['counts']
    width = np.diff(edges)
    centers = edges[:-1] + width / 2
    nonempty = counts > 0

    own_figure = ax is None
    if own_figure:
        fig = Figure(figsize=(4.2, 4.4), dpi=120)
        ax = fig.subplots()
    ax.bar(centers[nonempty], stats['accuracy'][nonempty], width=width[nonempty],
           color='tab:blue', edgecolor='black', linewidth=0.5,
           label='accuracy of the bin')
    gap_bottom = np.minimum(stats['accuracy'], stats['confidence'])[nonempty]
    gap_height = np.abs(stats['accuracy'] - stats['confidence'])[nonempty]
    ax.bar(centers[nonempty], gap_height, bottom=gap_bottom, width=width[nonempty],
           color='tab:red', alpha=0.35, edgecolor='tab:red', hatch='//',
           linewidth=0.5, label='gap |accuracy - confidence|\n(ECE: its mean, '
           'weighted by count)')
    ax.plot([0, 1], [0, 1], linestyle='--', color='gray', linewidth=1,
            label='perfect calibration')
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel('confidence (top-1 probability)')
    ax.set_ylabel('accuracy')
    counts_axis = ax.secondary_xaxis('top')
    counts_axis.set_xticks(centers[nonempty], [str(int(c)) for c in counts[nonempty]],
                           rotation=90, fontsize=6)
    counts_axis.tick_params(length=2, pad=1)
    counts_axis.set_xlabel('predictions per bin', fontsize=7, labelpad=2)
    ax.set_title(title or 'reliability diagram', fontsize=10)
    ax.legend(title=f'ECE {100 * stats["ece"]:.2f}%, n = {int(counts.sum())}',
              loc='upper left', fontsize=6.5, title_fontsize=7.5)
    if own_figure:
        fig.tight_layout()
        if out_file:
            fig.savefig(out_file)
    return stats


def confidences_from_predictions(predictions: Sequence[dict]) -> Tuple[np.ndarray,
                                                                        np.ndarray]:
    """(confidence, correct) arrays from dumped predictions.

    (confidence, correct) arrays from dumped data samples with ``pred_score``
    and ``gt_label`` (the format of ``tools/test.py --out``)."""
    confidences, correct = [], []
    for index, sample in enumerate(predictions):
        if 'pred_score' not in sample or 'gt_label' not in sample:
            raise ValueError(f'prediction {index} lacks pred_score or gt_label')
        score = _as_float64(sample['pred_score']).reshape(-1)
        label = int(np.asarray(sample['gt_label']).reshape(-1)[0])
        confidences.append(score.max())
        correct.append(int(score.argmax()) == label)
    return np.asarray(confidences), np.asarray(correct)


def _as_float64(scores) -> np.ndarray:
    """Scores as a float64 array; torch tensors of any dtype (``--amp`` dumps
    bfloat16, which numpy cannot read) are converted by torch first."""
    if hasattr(scores, 'detach'):
        scores = scores.detach().float().cpu().numpy()
    return np.asarray(scores, dtype=np.float64)
