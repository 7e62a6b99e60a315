"""Temperature scaling (Guo et al., ICML 2017): one scalar fitted on held-out data."""
from typing import Sequence, Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def fit_temperature(scores: ArrayLike, labels: ArrayLike,
                    min_temperature: float = 1e-2,
                    max_temperature: float = 1e2) -> float:
    r"""The temperature that minimises the NLL of held-out predictions.

    .. math::

        T^* = \arg\min_{T > 0} -\frac{1}{n} \sum_i
            \log \mathrm{softmax}(\log p_i / T)_{y_i}

    fitted over :math:`\log T` by L-BFGS (strong Wolfe line search) in float64; the
    NLL is convex in :math:`1/T`, so the minimum is global. Fit it on data the model
    was not trained on and that is not the test set (e.g. a held-out part of the
    training split), then evaluate with
    ``ExpectedCalibrationError(temperature=T)``.

    Args:
        scores: (n, K) class probabilities (``pred_score``) of the held-out samples.
        labels: (n,) their integer labels.
        min_temperature, max_temperature (float): T is clipped to this range (a
            model that is right on every held-out sample drives T towards 0).

    Returns:
        float: T (> 1: the model was over-confident; < 1: under-confident).
    """
    probs = torch.as_tensor(np.asarray(scores), dtype=torch.float64)
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if probs.ndim != 2 or probs.shape[0] != target.numel() or target.numel() == 0:
        raise ValueError('fit_temperature: scores must be (n, K) with n = len(labels) '
                         f'> 0, got scores {tuple(probs.shape)} and '
                         f'{target.numel()} labels')
    if not bool(torch.isfinite(probs).all()):
        raise ValueError('fit_temperature: scores hold NaN or inf')
    log_p = probs.clamp(min=1e-45).log()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1., max_iter=100,
                                  line_search_fn='strong_wolfe')
    bounds = (np.log(min_temperature), np.log(max_temperature))

    def nll():
        optimizer.zero_grad()
        t = log_t.clamp(*bounds).exp()
        loss = torch.nn.functional.cross_entropy(log_p / t, target)
        loss.backward()
        return loss

    optimizer.step(nll)
    return float(log_t.detach().clamp(*bounds).exp())
