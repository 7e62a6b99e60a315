"""Deeply-supervised Knowledge Synergy (Sun et al., CVPR 2019)."""
from itertools import permutations
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .dsn_classifier import DSNClassifier

KL_PAIRS = ('all', 'main')
KL_REDUCTIONS = ('sum', 'mean')


@MODELS.register_module()
class DKSClassifier(DSNClassifier):
    r"""DSN plus knowledge matching between the classifiers at all exits.

    With :math:`E` classifiers (the exit classifiers of :class:`DSNClassifier` and the
    main head), logits :math:`z_i` and softened predictions
    :math:`p_i = \mathrm{softmax}(z_i / T)`, training adds to DSN's losses

    .. math::

        \texttt{loss\_dks\_kl} = w\, T^2 \operatorname*{R}_{(i, j) \in Q}
            \frac{1}{N} \sum_{n=1}^{N}
            \mathrm{KL}\big(\bar p_j(x_n) \,\|\, p_i(x_n)\big)

    where :math:`Q` holds the ordered pairs :math:`(i, j), i \ne j` (every classifier
    learns from every other one; ``kl_pairs='all'``, DKS's dense synergy) or only the
    pairs that include the main head (``kl_pairs='main'``: main <-> each exit, as in
    DHM, Li et al. CVPR 2020), and :math:`R` sums over the pairs
    (``kl_reduction='sum'``) or averages them (``'mean'``). :math:`\bar p_j` is the
    target, detached when ``detach_target`` (each classifier is pulled towards the
    others; no gradient flows into the target through its own term).

    The defaults are DKS as its authors define it (Sun et al., "Deeply-supervised
    Knowledge Synergy", CVPR 2019): cross-entropy weight 1 on every classifier
    (``exit_loss_weight=1``), the synergy term summed over all ordered pairs at
    :math:`T = 1` with weight 1, targets detached. ``kl_temperature=3``,
    ``kl_reduction='mean'``, ``exit_loss_weight=0.3`` is a variant of ours (softened
    as in Hinton et al.'s distillation, :math:`T^2` keeping the gradient scale, and a
    pair-count-independent weight); :math:`T^2 = 1` at the default.

    Loss keys: ``loss``, ``loss_exit_stage{k}`` (see :class:`DSNClassifier`) and
    ``loss_dks_kl``. Inference is the main head's, as in DSN.

    Args:
        kl_temperature (float): :math:`T`. Defaults to 1.0.
        kl_loss_weight (float): :math:`w`. Defaults to 1.0.
        kl_pairs (str): 'all' or 'main'. Defaults to 'all'.
        kl_reduction (str): 'sum' or 'mean' over the pairs. Defaults to 'sum'.
        detach_target (bool): stop gradients through :math:`\bar p_j`. Defaults to
            True.
        exit_loss_weight (float | Sequence[float]): cross-entropy weight of each
            exit classifier. Defaults to 1.0.
        Others: as in :class:`DSNClassifier`.
    """

    def __init__(self,
                 backbone: dict,
                 kl_temperature: float = 1.0,
                 kl_loss_weight: float = 1.0,
                 kl_pairs: str = 'all',
                 kl_reduction: str = 'sum',
                 detach_target: bool = True,
                 exit_stages: Optional[Sequence[int]] = None,
                 exit_type: str = 'sepconv',
                 exit_loss_weight: Union[float, Sequence[float]] = 1.0,
                 **kwargs):
        if kl_temperature <= 0:
            raise ValueError(f'DKSClassifier.kl_temperature: must be > 0, got '
                             f'{kl_temperature}')
        if kl_pairs not in KL_PAIRS:
            raise ValueError(f'DKSClassifier.kl_pairs: must be one of {KL_PAIRS}, '
                             f'got {kl_pairs!r}')
        if kl_reduction not in KL_REDUCTIONS:
            raise ValueError(f'DKSClassifier.kl_reduction: must be one of '
                             f'{KL_REDUCTIONS}, got {kl_reduction!r}')
        super().__init__(backbone=backbone, exit_stages=exit_stages,
                         exit_type=exit_type, exit_loss_weight=exit_loss_weight,
                         **kwargs)
        self.kl_temperature = float(kl_temperature)
        self.kl_loss_weight = float(kl_loss_weight)
        self.kl_pairs = kl_pairs
        self.kl_reduction = kl_reduction
        self.detach_target = detach_target

    def extra_losses(self, neck_out, exit_feats: Dict[str, torch.Tensor],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """``{'loss_dks_kl': ...}`` over the exit classifiers and the main head."""
        logits = list(self.exit_logits(exit_feats).values()) + [self.head(neck_out)]
        return {'loss_dks_kl': self.knowledge_matching_loss(logits)}

    def knowledge_matching_loss(self, logits: List[torch.Tensor]) -> torch.Tensor:
        """The weighted KL over the classifier pairs (formula above).

        Args:
            logits (list[Tensor]): E tensors (N, K); the main head's last.

        Returns:
            Tensor: scalar ``w * T^2 * (sum or mean) over pairs of batch-mean KL``.
        """
        temperature = self.kl_temperature
        # fp32: KL of near-one-hot distributions underflows in bf16 autocast.
        log_probs = [F.log_softmax(z.float() / temperature, dim=1) for z in logits]
        main = len(logits) - 1
        pairs = [(i, j) for i, j in permutations(range(len(logits)), 2)
                 if self.kl_pairs == 'all' or main in (i, j)]
        total = logits[0].new_zeros((), dtype=torch.float32)
        for student, teacher in pairs:
            target = log_probs[teacher]
            if self.detach_target:
                target = target.detach()
            # KL(p_teacher || p_student), averaged over the batch.
            total = total + F.kl_div(log_probs[student], target, reduction='batchmean',
                                     log_target=True)
        if self.kl_reduction == 'mean':
            total = total / len(pairs)
        return self.kl_loss_weight * temperature**2 * total
