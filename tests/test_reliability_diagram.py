"""The reliability diagram tells how many predictions each bin holds and what its red
hatching is (issue #26, 4)."""
import numpy as np
from matplotlib.figure import Figure

from mmcds.evaluation import calibration_bins, plot_reliability_diagram

# Five bins: 1 prediction in (0, .2], 1 in (.2, .4], none in (.4, .6], 2 in (.6, .8],
# 3 in (.8, 1].
CONFIDENCES = [0.15, 0.3, 0.65, 0.7, 0.85, 0.9, 0.95]
CORRECT = [True, False, True, True, True, False, True]


def _draw():
    ax = Figure().subplots()
    stats = plot_reliability_diagram(CONFIDENCES, CORRECT, num_bins=5, ax=ax)
    return ax, stats


def test_every_nonempty_bin_shows_its_count_above_it():
    ax, stats = _draw()
    (counts_axis, ) = ax.child_axes  # the secondary x axis on top
    ticks = counts_axis.get_xticks()
    labels = [label.get_text() for label in counts_axis.get_xticklabels()]
    assert labels == ['1', '1', '2', '3']
    np.testing.assert_allclose(ticks, [0.1, 0.3, 0.7, 0.9])
    assert stats['counts'].tolist() == [1, 1, 0, 2, 3]
    assert 'per bin' in counts_axis.get_xlabel()


def test_legend_names_the_bars_the_gap_and_the_diagonal():
    ax, stats = _draw()
    legend = ax.get_legend()
    texts = [text.get_text() for text in legend.get_texts()]
    assert any(t.startswith('accuracy') for t in texts)
    gap = next(t for t in texts if t.startswith('gap'))
    assert '|accuracy - confidence|' in gap and 'ECE' in gap
    assert 'perfect calibration' in texts
    ece = calibration_bins(CONFIDENCES, CORRECT, 5)['ece']
    assert legend.get_title().get_text() == f'ECE {100 * ece:.2f}%, n = 7'

