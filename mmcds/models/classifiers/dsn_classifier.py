"""Deeply-Supervised Nets (Lee et al., AISTATS 2015)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .multi_exit_classifier import MultiExitClassifier


@MODELS.register_module()
class DSNClassifier(MultiExitClassifier):
    r"""A classifier with a cross-entropy-trained classifier on intermediate stages.

    Every selected backbone output :math:`k` gets an exit (by default the SepConv
    chain to the last stage's channels plus pooling) and a ``LinearClsHead``. Training
    (``mode='loss'``) on a batch of N images returns

    .. math::

        \texttt{loss} = \mathrm{CE}(h(x_S), y), \qquad
        \texttt{loss\_exit\_stage}k = \alpha_k\, \mathrm{CE}(g_k(x_k), y)

    for the main head :math:`h` on the last output :math:`x_S` and the exit
    classifier :math:`g_k` on output :math:`x_k` (k 1-based, as in CDS's
    ``loss_cds_stage{k}``). Inference is the main head's (see
    :class:`MultiExitClassifier`).

    Args:
        backbone (dict): must output every supervised stage and the last one, e.g.
            ResNet with ``out_indices=(0, 1, 2, 3)``.
        exit_stages (Sequence[int], optional): 0-based backbone outputs that get an
            exit classifier. Defaults to all but the last.
        exit_type (str): 'sepconv', 'resnet', 'fc' or 'pool' (see ``StageExit``).
            Defaults to 'sepconv'.
        exit_loss_weight (float | Sequence[float]): :math:`\alpha_k`, one value or
            one per exit. Defaults to 0.3 (GoogLeNet's auxiliary-classifier weight,
            the usual constant DSN setting).
        **kwargs: ``ImageClassifier``'s other arguments. The exit heads copy the
            main head's ``num_classes`` and cross-entropy flags.
    """

    def __init__(self,
                 backbone: dict,
                 exit_stages: Optional[Sequence[int]] = None,
                 exit_type: str = 'sepconv',
                 exit_loss_weight: Union[float, Sequence[float]] = 0.3,
                 **kwargs):
        super().__init__(backbone=backbone, **kwargs)
        self.build_exits(exit_stages, exit_type, exit_loss_weight)
        missing = [self.exit_key(s) for s in self.exit_stages
                   if self.exit_key(s) not in self.exit_heads]
        if missing:
            raise ValueError(f'{type(self).__name__}.exit_loss_weight: 0 for {missing} '
                             'leaves those exits untrained; give every exit a weight '
                             '> 0 or drop it from exit_stages')

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """The main head's loss and every exit classifier's.

        Args:
            inputs (Tensor): (N, C, H, W).
            data_samples (list[DataSample]): N samples with ``gt_label`` (or
                ``gt_score`` from batch augments).

        Returns:
            dict[str, Tensor]: ``loss`` and ``loss_exit_stage{k}`` per exit (and
            what :meth:`extra_losses` adds).
        """
        stage_feats = self.backbone(inputs)
        neck_out = self.classifier_features(stage_feats)
        losses = self.head.loss(neck_out, data_samples)
        exit_feats = self.exit_features(stage_feats)
        losses.update(self.exit_losses(exit_feats, data_samples))
        losses.update(self.extra_losses(neck_out, exit_feats, data_samples))
        return losses

    def extra_losses(self, neck_out, exit_feats: Dict[str, torch.Tensor],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Terms a subclass adds to DSN's (DKS: knowledge matching); none here."""
        return {}
