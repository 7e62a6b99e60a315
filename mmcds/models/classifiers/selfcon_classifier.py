"""SelfCon: Self-Contrastive learning (Bae et al., AAAI 2023) jointly with CE."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import average_softmax, labels_of
from .multi_exit_classifier import MultiExitClassifier

PROJECTORS = ('linear', 'mlp')


@MODELS.register_module()
class SelfConClassifier(MultiExitClassifier):
    r"""A classifier trained with cross-entropy and SelfCon.

    One view per image; the contrast is between sub-network exits and the backbone
    output.

    Every output in ``exit_stages`` (0-based; the authors write it as flags,
    ``selfcon_pos=[False, True, False]`` is ``exit_stages=(1, )``) gets an exit (by
    default ``exit_type='resnet'``: fresh copies of the later residual layers, the
    authors' ``selfcon_size='same'``, their ImageNet script's choice; ``'fc'`` is their
    CIFAR script's, ``'sepconv'`` CDS's SepConv path). Every exit and the backbone's
    pooled output get their own projector to ``feat_dim``, L2-normalised, giving
    :math:`z_1, \dots, z_E, z_B`: by default a Linear layer each, the backbone's frozen
    at its random initialisation, as the authors' one-stage model has it
    (``networks/resnet_big.py``, ``CEResNet``: ``feat_fc`` per exit, ``f_fc`` with
    ``requires_grad = False``, "MLP head of backbone is always in random
    initialization"); ``projector='mlp'`` gives Linear-ReLU-Linear heads (their
    two-stage ``ConResNet``), ``freeze_backbone_projector=False`` trains the
    backbone's. For N images with labels :math:`y`, training returns

    .. math::

        \texttt{loss} &= \mathrm{CE}(h(x_S), y) \\
        \texttt{loss\_selfcon} &= \gamma\,
            \mathrm{SupCon}\big([z_1, \dots, z_E, z_B] \in \mathbb{R}^{N \times (E+1)
            \times D}, y\big) \\
        \texttt{loss\_exit\_stage}k &= \alpha\, \mathrm{CE}(g_k(e_k), y)

    SupCon is ``selfcon_loss`` (``ContrastiveDSLoss``): the exits' projections of the
    same image act as its "views", so an anchor's positives are the same image at the
    other exits and every projection of a same-class image. The authors' ``ConLoss``
    multiplies it by ``temperature / 0.07`` (``base_temperature=0.07``). The last term
    trains a classifier on each exit (the authors' one-stage ``main_ce.py`` method
    'selfcon' uses :math:`\alpha = 1`, :math:`\gamma = 0.8`); ``exit_loss_weight=0``
    leaves the exits without classifiers (pure SelfCon + CE, no ``loss_exit_*``
    keys).

    Inference (``predict``) uses the backbone output through ``neck`` and ``head``, as
    ``ImageClassifier`` does; with ``ensemble_exits=True`` it averages the softmax of
    the main head and of every exit classifier instead. ``tensor`` mode always returns
    the main head's logits. State-dict keys: ``backbone.``, ``neck.``, ``head.`` as in
    ``ImageClassifier``; ``exits.``, ``exit_heads.`` and ``selfcon_projectors.`` for
    the rest.

    Args:
        backbone (dict): must output every stage up to the last exit and the last
            stage, e.g. ResNet with ``out_indices=(0, 1, 2, 3)``.
        exit_stages (Sequence[int], optional): 0-based backbone outputs (before the
            last) that get an exit. Defaults to the authors' ResNet choice, an exit
            after the second stage: ``(1, )``.
        exit_type (str): see :class:`StageExit`. Defaults to 'resnet'.
        feat_dim (int): projection size D. Defaults to 128.
        projector (str): 'linear' or 'mlp'. Defaults to 'linear'.
        freeze_backbone_projector (bool): keep the backbone's projector at its
            random initialisation. Defaults to True.
        selfcon_loss (dict, optional): Defaults to ``ContrastiveDSLoss`` with
            temperature 0.1 (the authors' SelfCon scripts), ``base_temperature=0.07``
            and weight 0.8.
        exit_loss_weight (float): :math:`\alpha`. Defaults to 1.0.
        ensemble_exits (bool): predict with the ensemble. Defaults to False.
        **kwargs: ``ImageClassifier``'s other arguments.
    """

    def __init__(self,
                 backbone: dict,
                 exit_stages: Optional[Sequence[int]] = (1, ),
                 exit_type: str = 'resnet',
                 feat_dim: int = 128,
                 projector: str = 'linear',
                 freeze_backbone_projector: bool = True,
                 selfcon_loss: Optional[dict] = None,
                 exit_loss_weight: float = 1.0,
                 ensemble_exits: bool = False,
                 **kwargs):
        super().__init__(backbone=backbone, **kwargs)
        if ensemble_exits and exit_loss_weight == 0:
            raise ValueError('SelfConClassifier.ensemble_exits: needs exit '
                             'classifiers; set exit_loss_weight > 0')
        if projector not in PROJECTORS:
            raise ValueError(f'SelfConClassifier.projector: must be one of '
                             f'{PROJECTORS}, got {projector!r}')
        self.build_exits(exit_stages, exit_type, exit_loss_weight)
        self.ensemble_exits = ensemble_exits
        backbone_channels = getattr(self.head, 'in_channels', self.stage_channels[-1])
        with self.auxiliary_rng():
            self.selfcon_projectors = nn.ModuleDict({
                key: self._projector(projector, exit_.out_channels, feat_dim)
                for key, exit_ in self.exits.items()
            })
            self.selfcon_projectors['backbone'] = self._projector(
                projector, backbone_channels, feat_dim)
        self.freeze_backbone_projector = freeze_backbone_projector
        if freeze_backbone_projector:
            self.selfcon_projectors['backbone'].requires_grad_(False)
        self.selfcon_loss = MODELS.build(selfcon_loss or dict(
            type='ContrastiveDSLoss', temperature=0.1, loss_weight=0.8,
            base_temperature=0.07))

    @staticmethod
    def _projector(kind: str, in_channels: int, feat_dim: int) -> nn.Module:
        """Linear(C, D) ('linear', one-stage ``CEResNet``) or Linear(C, C) - ReLU -
        Linear(C, D) ('mlp', two-stage ``ConResNet``)."""
        if kind == 'linear':
            return nn.Linear(in_channels, feat_dim)
        return nn.Sequential(
            nn.Linear(in_channels, in_channels), nn.ReLU(inplace=True),
            nn.Linear(in_channels, feat_dim))

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """The head's loss, the SelfCon term and the exit classifiers' losses.

        Args:
            inputs (Tensor): (N, C, H, W), one view per image.
            data_samples (list[DataSample]): N samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss``, ``loss_selfcon`` and, when exit classifiers
            exist, ``loss_exit_stage{k}``.
        """
        owner = type(self).__name__
        if not isinstance(inputs, torch.Tensor):
            raise ValueError(
                f'{owner}: inputs is a {type(inputs).__name__}, but SelfCon trains on '
                'one view per image, a batch (N, C, H, W); use a single-view train '
                'pipeline (no MultiView) and ClsDataPreprocessor')
        stage_feats = self.backbone(inputs)
        neck_out = self.classifier_features(stage_feats)
        losses = self.head.loss(neck_out, data_samples)

        exit_feats = self.exit_features(stage_feats)
        losses.update(self.exit_losses(exit_feats, data_samples))
        embeddings = [self.selfcon_projectors[key](feat)
                      for key, feat in exit_feats.items()]
        embeddings.append(self.selfcon_projectors['backbone'](self.pooled(neck_out)))
        # E + 1 "views" of every image: (N, E + 1, D), unit rows.
        features = nn.functional.normalize(torch.stack(embeddings, dim=1), dim=2)
        losses['loss_selfcon'] = self.selfcon_loss(
            features, labels_of(data_samples, inputs.device, owner))
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The main head's prediction, or the exits' ensemble.

        The main head's prediction, or with ``ensemble_exits`` the mean softmax
        of the main head and the exit classifiers (``pred_score`` (K,) per sample)."""
        if not self.ensemble_exits:
            return super().predict(inputs, data_samples, **kwargs)
        stage_feats = self.backbone(inputs)
        logits = [self.head(self.classifier_features(stage_feats))]
        logits += self.exit_logits(self.exit_features(stage_feats)).values()
        scores = average_softmax(logits)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for sample, score in zip(data_samples, scores):
            sample.set_pred_score(score).set_pred_label(score.argmax(keepdim=True))
        return data_samples
