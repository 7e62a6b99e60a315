"""Statistics over seeds: mean and standard deviation, paired differences."""
import math
from typing import Dict, Sequence


def mean_sd(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (n - 1 in the denominator; 0 for n = 1)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('mean_sd: no values')
    mean = sum(values) / len(values)
    if len(values) == 1:
        return dict(n=1, mean=mean, sd=0.)
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return dict(n=len(values), mean=mean, sd=math.sqrt(var))


def paired_difference(values: Dict[int, float], baseline: Dict[int, float],
                      confidence: float = 0.95) -> Dict[str, float]:
    r"""Mean paired difference over the seeds both have, with a t interval.

    With :math:`d_s = x_s - b_s` over the n shared seeds s,

    .. math::

        \bar d \pm t_{1 - \alpha/2,\, n-1} \, \frac{s_d}{\sqrt n}

    where :math:`s_d` is the sample standard deviation of the :math:`d_s` and
    :math:`1 - \alpha` = ``confidence``. Pairing by seed removes what both runs of
    a seed share (same data order, same backbone initialisation), so the interval
    is narrower than one from two independent samples when the runs are correlated.

    Args:
        values, baseline: ``{seed: value}``.
        confidence (float): the interval's coverage. Defaults to 0.95.

    Returns:
        dict: ``n``, ``mean``, ``sd``, ``low``, ``high`` and ``half_width`` (the
        interval is ``mean ± half_width``; low/high/half_width are NaN for n < 2).
    """
    from scipy import stats

    seeds = sorted(set(values) & set(baseline))
    if not seeds:
        raise ValueError('paired_difference: no seed in common: '
                         f'{sorted(values)} vs {sorted(baseline)}')
    summary = mean_sd([values[s] - baseline[s] for s in seeds])
    n, mean, sd = summary['n'], summary['mean'], summary['sd']
    if n < 2:
        half = float('nan')
    else:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return dict(n=n, mean=mean, sd=sd, low=mean - half, high=mean + half,
                half_width=half, seeds=seeds)


def paired_t_p_value(diff: Dict[str, float]) -> float:
    r"""Two-sided p-value of the paired t-test behind :func:`paired_difference`.

    :math:`t = \bar d / (s_d / \sqrt n)` with n - 1 degrees of freedom,
    :math:`p = 2\,P(T_{n-1} > |t|)`. NaN for n < 2; with :math:`s_d = 0` (every seed
    the same difference) 0 if :math:`\bar d \ne 0`, else 1.
    """
    from scipy import stats

    n, mean, sd = diff['n'], diff['mean'], diff['sd']
    if n < 2:
        return float('nan')
    if sd == 0:
        return 0. if mean != 0 else 1.
    t = mean / (sd / math.sqrt(n))
    return float(2 * stats.t.sf(abs(t), n - 1))


def holm_adjust(p_values: Sequence[float]) -> list:
    r"""Holm's step-down adjustment of a family of p-values (same order as given).

    With the m p-values sorted ascending, :math:`p_{(1)} \le \dots \le p_{(m)}`, the
    adjusted value of the i-th smallest is
    :math:`\tilde p_{(i)} = \min(1, \max_{j \le i} (m - j + 1)\, p_{(j)})`; rejecting
    every hypothesis with :math:`\tilde p < \alpha` keeps the family-wise error rate at
    α. NaN p-values (comparisons without an interval) stay NaN and do not count in m.
    """
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(indexed)
    adjusted = [float('nan')] * len(p_values)
    running = 0.
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1., (m - rank) * p))
        adjusted[i] = running
    return adjusted
