from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[float]]


def calibration_bins(confidences: ArrayLike, correct: ArrayLike,
                     num_bins: int = 15) -> Dict[str, np.ndarray]:
    r"""Per-bin statistics of a top-1 classifier's confidence (Guo et al., ICML 2017).

    The confidence range is split into ``num_bins`` equal-width bins
    :math:`B_b = (b/M, (b+1)/M]` (a confidence of exactly 0 goes to the first), and

    .. math::

        \mathrm{ECE} = \sum_{b} \frac{|B_b|}{n} \big|\mathrm{acc}(B_b) -
            \mathrm{conf}(B_b)\big|, \qquad
        \mathrm{MCE} = \max_{b: |B_b| > 0} \big|\mathrm{acc}(B_b) -
            \mathrm{conf}(B_b)\big|

    with :math:`\mathrm{acc}(B_b)` the fraction of correct predictions in the bin and
    :math:`\mathrm{conf}(B_b)` their mean confidence.

    Args:
        confidences: (n,) top-1 probabilities in [0, 1].
        correct: (n,) whether each top-1 prediction is right (bool or 0/1).
        num_bins (int): M. Defaults to 15.

    Returns:
        dict: ``edges`` (M+1,), ``counts`` (M,), ``accuracy`` (M,), ``confidence``
        (M,) (0 for empty bins), and the scalars ``ece`` and ``mce`` as fractions.
    """
    if int(num_bins) != num_bins or num_bins < 1:
        raise ValueError(f'num_bins must be a positive integer, got {num_bins}')
    num_bins = int(num_bins)
    conf = torch.as_tensor(np.asarray(confidences), dtype=torch.float64).reshape(-1)
    hit = torch.as_tensor(np.asarray(correct), dtype=torch.float64).reshape(-1)
    if conf.numel() != hit.numel():
        raise ValueError(f'confidences has {conf.numel()} entries but correct has '
                         f'{hit.numel()}')
    if conf.numel() == 0:
        raise ValueError('calibration needs at least one prediction, got none')
    non_finite = int((~torch.isfinite(conf)).sum())
    if non_finite:
        raise ValueError(f'{non_finite} of {conf.numel()} confidences are not finite '
                         '(NaN or inf): the model produced non-finite scores, e.g. '
                         'from diverged weights')
    if conf.min() < 0 or conf.max() > 1:
        raise ValueError('confidences must lie in [0, 1]; pass probabilities '
                         '(pred_score after softmax), not logits')
    # k / M computed by division, so an edge equals the literal (e.g. 0.6 for 3/5).
    inner_edges = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    # right=False: index b such that edge[b-1] < conf <= edge[b], i.e. (lower, upper].
    bin_ids = torch.bucketize(conf, inner_edges, right=False)
    counts = torch.bincount(bin_ids, minlength=num_bins).to(torch.float64)
    hit_sum = torch.bincount(bin_ids, weights=hit, minlength=num_bins)
    conf_sum = torch.bincount(bin_ids, weights=conf, minlength=num_bins)
    nonempty = counts > 0
    accuracy = torch.where(nonempty, hit_sum / counts.clamp(min=1), 0.)
    confidence = torch.where(nonempty, conf_sum / counts.clamp(min=1), 0.)
    gaps = (accuracy - confidence).abs()
    ece = (counts / conf.numel() * gaps).sum()
    mce = gaps[nonempty].max()
    edges = torch.cat([conf.new_zeros(1), inner_edges, conf.new_ones(1)])
    return dict(edges=edges.numpy(), counts=counts.numpy(),
                accuracy=accuracy.numpy(), confidence=confidence.numpy(),
                ece=float(ece), mce=float(mce))


def proper_scores(scores: ArrayLike, labels: ArrayLike) -> Dict[str, float]:
    r"""Negative log-likelihood and Brier score of class probabilities.

    .. math::

        \mathrm{NLL} = -\frac{1}{n}\sum_i \log p_{i, y_i}, \qquad
        \mathrm{Brier} = \frac{1}{n}\sum_i \sum_k (p_{ik} - [k = y_i])^2

    (natural log; the Brier score sums over the K classes, so it lies in [0, 2]).
    Both are proper scoring rules: unlike ECE they cannot be improved by a model
    that is confident only where it is right on average.

    Args:
        scores: (n, K) class probabilities (rows sum to 1).
        labels: (n,) integer class indices.

    Returns:
        dict: ``nll`` and ``brier`` (floats, means over the n samples).
    """
    probs = torch.as_tensor(np.asarray(scores), dtype=torch.float64)
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if probs.ndim != 2 or probs.shape[0] != target.numel():
        raise ValueError(f'scores must be (n, K) with n = len(labels) = {target.numel()}, '
                         f'got shape {tuple(probs.shape)}')
    if target.numel() and (target.min() < 0 or target.max() >= probs.shape[1]):
        raise ValueError(f'labels must lie in [0, {probs.shape[1]}), got '
                         f'{int(target.min())}..{int(target.max())}')
    # The smallest positive float32 probability: a score of exactly 0 on the true
    # class (possible after float32 softmax) gives a large but finite NLL.
    p_true = probs.gather(1, target[:, None]).squeeze(1).clamp(min=1e-45)
    onehot = torch.nn.functional.one_hot(target, probs.shape[1]).to(probs)
    return dict(nll=float(-p_true.log().mean()),
                brier=float(((probs - onehot)**2).sum(1).mean()))


def scale_temperature(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""Temperature-scaled probabilities from probabilities.

    :math:`\mathrm{softmax}(\log p / T)`, which equals :math:`\mathrm{softmax}(z / T)`
    for the logits z behind p (log p = z - logsumexp z, and the shift cancels), so
    temperature scaling needs only what the head outputs (``pred_score``).

    Args:
        scores: (..., K) class probabilities.
        temperature (float): T > 0; T > 1 softens, T < 1 sharpens, T = 1 is identity.

    Returns:
        Tensor: (..., K) probabilities with the same arg-max.
    """
    if temperature == 1:
        return scores
    log_p = scores.double().clamp(min=1e-45).log()
    return torch.softmax(log_p / temperature, dim=-1).to(scores.dtype)


@METRICS.register_module()
class ExpectedCalibrationError(BaseMetric):
    """Calibration of single-label predictions: ECE, MCE, NLL and Brier score.

    Reads ``pred_score`` (class probabilities, as mmpretrain heads set them) and
    ``gt_label`` of every data sample; the confidence is the top-1 probability and a
    prediction is correct when its arg-max equals the label. See
    :func:`calibration_bins` for ECE/MCE (equal-width bins, lower-open and
    upper-closed: (b/M, (b+1)/M]) and :func:`proper_scores` for NLL/Brier.

    Results: ``calibration/ECE`` and ``calibration/MCE`` in % like ``Accuracy``,
    ``calibration/NLL`` (nats per sample) and ``calibration/Brier`` (summed over
    classes, in [0, 2]); all four: 0 is perfect, lower is better. Use it next to
    ``Accuracy``::

        val_evaluator = [
            dict(type='Accuracy', topk=(1, )),
            dict(type='ExpectedCalibrationError', num_bins=15),
        ]

    Temperature scaling (Guo et al., 2017): with ``temperature=T`` every score is
    replaced by ``softmax(log(pred_score) / T)`` before the metrics (top-1 is
    unchanged). T is fitted on held-out data with
    :func:`mmcds.evaluation.fit_temperature`, e.g. by ``tools/compare_methods.py
    --calibration-holdout``; evaluating with a T fitted on the test split itself
    would flatter the model.

    Args:
        num_bins (int): number of equal-width confidence bins. Defaults to 15
            (Guo et al., 2017).
        temperature (float): T > 0 applied to the scores first. Defaults to 1 (off).
        keep_scores (bool): also keep every sample's score vector as
            ``last_scores`` (n, K) and its label as ``last_labels`` (n,), e.g. to fit
            a temperature; off by default so 1000-class test sets stay small.
        collect_device (str): 'cpu' or 'gpu' for collecting results across ranks.
        prefix (str, optional): metric name prefix. Defaults to 'calibration'.
    """
    default_prefix: Optional[str] = 'calibration'

    def __init__(self,
                 num_bins: int = 15,
                 temperature: float = 1.,
                 keep_scores: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if int(num_bins) != num_bins or num_bins < 1:
            raise ValueError('ExpectedCalibrationError.num_bins: must be a positive '
                             f'integer, got {num_bins}')
        if not (float(temperature) > 0 and np.isfinite(float(temperature))):
            raise ValueError('ExpectedCalibrationError.temperature: must be a finite '
                             f'number > 0, got {temperature}')
        self.num_bins = int(num_bins)
        self.temperature = float(temperature)
        self.keep_scores = bool(keep_scores)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's top-1 confidence, correctness, NLL and Brier terms.

        Four numbers per sample (plus the score vector with ``keep_scores``), so
        1000-class test sets stay small."""
        for data_sample in data_samples:
            if 'pred_score' not in data_sample:
                raise ValueError(
                    'ExpectedCalibrationError: a data sample has no pred_score (class '
                    'probabilities); the model only gave pred_label')
            if 'gt_label' not in data_sample:
                raise ValueError('ExpectedCalibrationError: a data sample has no '
                                 'gt_label; evaluate on a labelled data set')
            # float(): `tools/test.py --amp` on the CPU gives bfloat16 scores.
            score = data_sample['pred_score'].detach().float().cpu().reshape(-1)
            if not bool(torch.isfinite(score).all()):
                where = data_sample.get('img_path', None) or \
                    f"sample {data_sample.get('sample_idx', '?')}"
                raise ValueError(
                    'ExpectedCalibrationError.pred_score: non-finite scores (NaN or '
                    f'inf) for {where}: the model\'s outputs are not finite (its '
                    'weights or inputs are), not a calibration problem; check the '
                    'checkpoint/training for a diverged loss')
            gt_label = data_sample['gt_label'].reshape(-1)
            if gt_label.numel() != 1:
                raise ValueError('ExpectedCalibrationError: a gt_label has '
                                 f'{gt_label.numel()} entries; the metric is for '
                                 'single-label data')
            label = int(gt_label)
            score = scale_temperature(score, self.temperature)
            confidence, prediction = score.max(dim=0)
            # proper_scores' formulas for one sample: -log p_y and
            # sum_k p_k^2 - 2 p_y + 1 (= sum_k (p_k - [k = y])^2).
            p_true = score[label].double()
            result = dict(confidence=float(confidence),
                          correct=bool(int(prediction) == label), label=label,
                          nll=float(-p_true.clamp(min=1e-45).log()),
                          brier=float((score.double()**2).sum() - 2 * p_true + 1))
            if self.keep_scores:
                result['score'] = score.numpy()
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """ECE and MCE in %, mean NLL and Brier score over every kept sample.

        The samples' confidences and correctness stay readable as
        ``last_confidences`` / ``last_correct`` (for a reliability diagram of the same
        evaluation), with ``keep_scores`` also ``last_scores`` / ``last_labels``."""
        self.last_confidences = [r['confidence'] for r in results]
        self.last_correct = [r['correct'] for r in results]
        if self.keep_scores:
            self.last_scores = np.stack([r['score'] for r in results])
            self.last_labels = np.array([r['label'] for r in results])
        stats = calibration_bins(self.last_confidences, self.last_correct,
                                 self.num_bins)
        return dict(ECE=100. * stats['ece'], MCE=100. * stats['mce'],
                    NLL=float(np.mean([r['nll'] for r in results])),
                    Brier=float(np.mean([r['brier'] for r in results])))
