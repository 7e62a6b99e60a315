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


@METRICS.register_module()
class ExpectedCalibrationError(BaseMetric):
    """Expected (and maximum) calibration error of single-label predictions.

    Reads ``pred_score`` (class probabilities, as mmpretrain heads set them) and
    ``gt_label`` of every data sample; the confidence is the top-1 probability and a
    prediction is correct when its arg-max equals the label. See
    :func:`calibration_bins` for the formula (equal-width bins over (0, 1]).

    Results are percentages, like ``Accuracy``: ``calibration/ECE`` and
    ``calibration/MCE`` (0 = perfectly calibrated; lower is better). Use it next to
    ``Accuracy``::

        val_evaluator = [
            dict(type='Accuracy', topk=(1, )),
            dict(type='ExpectedCalibrationError', num_bins=15),
        ]

    Args:
        num_bins (int): number of equal-width confidence bins. Defaults to 15
            (Guo et al., 2017).
        collect_device (str): 'cpu' or 'gpu' for collecting results across ranks.
        prefix (str, optional): metric name prefix. Defaults to 'calibration'.
    """
    default_prefix: Optional[str] = 'calibration'

    def __init__(self,
                 num_bins: int = 15,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if int(num_bins) != num_bins or num_bins < 1:
            raise ValueError('ExpectedCalibrationError.num_bins: must be a positive '
                             f'integer, got {num_bins}')
        self.num_bins = int(num_bins)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's top-1 confidence and whether it is correct.

        Keep each sample's top-1 confidence and whether it is correct (two
        numbers, not the score vector, so 1000-class test sets stay small)."""
        for data_sample in data_samples:
            if 'pred_score' not in data_sample:
                raise ValueError(
                    'ExpectedCalibrationError: a data sample has no pred_score (class '
                    'probabilities); the model only gave pred_label')
            if 'gt_label' not in data_sample:
                raise ValueError('ExpectedCalibrationError: a data sample has no '
                                 'gt_label; evaluate on a labelled data set')
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
            confidence, prediction = score.max(dim=0)
            self.results.append(
                dict(confidence=float(confidence),
                     correct=bool(int(prediction) == int(gt_label))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """ECE and MCE in % over every kept sample.

        ECE and MCE in % over every kept sample; the samples' confidences and
        correctness stay readable as ``last_confidences`` / ``last_correct`` (for a
        reliability diagram of the same evaluation)."""
        self.last_confidences = [r['confidence'] for r in results]
        self.last_correct = [r['correct'] for r in results]
        stats = calibration_bins(self.last_confidences, self.last_correct,
                                 self.num_bins)
        return dict(ECE=100. * stats['ece'], MCE=100. * stats['mce'])
