from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .aux_heads import (StageExit, exit_stages_of,
                        linear_head_like)
from .multi_exit_classifier import MultiExitClassifier


@MODELS.register_module()
class DSNClassifier(MultiExitClassifier):
    r"""Deeply-Supervised Nets (Lee et al., AISTATS 2015): a cross-entropy-trained
    auxiliary classifier on intermediate backbone stages.

    Every selected backbone output :math:`k` gets an exit (:class:`StageExit`, by
    default CDS's SepConv path to the last stage's channels plus pooling) and a
    ``LinearClsHead``. Training (``mode='loss'``) on a batch of N images returns

    .. math::

        \texttt{loss} = \mathrm{CE}(h(x_S), y), \qquad
        \texttt{loss\_dsn\_stage}k = \alpha_k\, \mathrm{CE}(g_k(x_k), y)

    for the main head :math:`h` on the last output :math:`x_S` and the auxiliary
    classifier :math:`g_k` on output :math:`x_k` (stage numbers are 1-based, as in
    ``CDSClassifier``'s ``loss_cds_stage{k}``). ``predict`` and ``tensor`` modes are
    ``ImageClassifier``'s on the last output: the auxiliary classifiers cost nothing at
    test time and a checkpoint's ``backbone.``/``neck.``/``head.`` keys load into a
    plain config; the auxiliary modules live under ``aux_exits.`` and ``aux_heads.``.

    Args:
        backbone (dict): must output every supervised stage and the last one, e.g.
            ResNet with ``out_indices=(0, 1, 2, 3)``.
        aux_stages (Sequence[int], optional): 0-based backbone outputs that get an
            auxiliary classifier. Defaults to all but the last.
        aux_exit (str): exit type, see :class:`StageExit` ('sepconv', 'resnet', 'fc',
            'pool'). Defaults to 'sepconv'.
        aux_loss_weight (float | Sequence[float]): :math:`\alpha_k`, one value for
            every auxiliary classifier or one each. Defaults to 0.3 (GoogLeNet's
            auxiliary-classifier weight, the usual constant DSN setting).
        neck, head, pretrained, train_cfg, data_preprocessor, init_cfg: as in
            ``ImageClassifier``. The auxiliary heads copy the main head's
            ``num_classes`` and cross-entropy flags.
    """

    def __init__(self,
                 backbone: dict,
                 aux_stages: Optional[Sequence[int]] = None,
                 aux_exit: str = 'sepconv',
                 aux_loss_weight: Union[float, Sequence[float]] = 0.3,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            train_cfg=train_cfg, data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        owner = type(self).__name__
        self.aux_stages = exit_stages_of(
            len(self.stage_channels), aux_stages, owner, 'aux_stages')
        weights = self._per_stage(aux_loss_weight, owner, 'aux_loss_weight')
        self.aux_loss_weights = weights
        self.aux_exits = nn.ModuleDict()
        self.aux_heads = nn.ModuleDict()
        for stage, weight in zip(self.aux_stages, weights):
            exit_ = StageExit(stage, self.stage_channels, aux_exit, self.backbone)
            self.aux_exits[self._key(stage)] = exit_
            self.aux_heads[self._key(stage)] = linear_head_like(
                self.head, exit_.out_channels, weight, owner)

    def _per_stage(self, value, owner: str, field: str) -> Tuple[float, ...]:
        if isinstance(value, (int, float)):
            return (float(value), ) * len(self.aux_stages)
        value = tuple(float(v) for v in value)
        if len(value) != len(self.aux_stages):
            raise ValueError(f'{owner}.{field} has {len(value)} entries for '
                             f'{len(self.aux_stages)} auxiliary stages '
                             f'{self.aux_stages}')
        return value

    @staticmethod
    def _key(stage: int) -> str:
        """ModuleDict key of the exit on 0-based output ``stage`` (1-based name)."""
        return f'stage{stage + 1}'

    def aux_logits(self, stage_feats: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{'stage{k}': (N, num_classes) logits}`` of every auxiliary classifier."""
        return {
            key: self.aux_heads[key]((self.aux_exits[key](stage_feats[stage]), ))
            for stage, key in ((s, self._key(s)) for s in self.aux_stages)
        }

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """
        Args:
            inputs (Tensor): (N, C, H, W).
            data_samples (list[DataSample]): N samples with ``gt_label`` (or
                ``gt_score`` from batch augments).

        Returns:
            dict[str, Tensor]: ``loss`` and ``loss_dsn_stage{k}`` per auxiliary stage.
        """
        stage_feats = self.backbone(inputs)
        main_logits = self.head(self._classifier_features(stage_feats))
        losses = self.head._get_loss(main_logits, data_samples)
        aux_logits = self.aux_logits(stage_feats)
        for key, logits in aux_logits.items():
            losses[f'loss_dsn_{key}'] = \
                self.aux_heads[key]._get_loss(logits, data_samples)['loss']
        self._extra_losses(losses, main_logits, aux_logits, data_samples)
        return losses

    def _extra_losses(self, losses: dict, main_logits: torch.Tensor,
                      aux_logits: Dict[str, torch.Tensor],
                      data_samples: List[DataSample]) -> None:
        """Hook for subclasses (DKS adds its knowledge-matching term)."""
