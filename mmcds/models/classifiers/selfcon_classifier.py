from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .aux_heads import (StageExit, average_softmax,
                        linear_head_like)
from .multi_exit_classifier import MultiExitClassifier
from .cds_classifier import labels_of


@MODELS.register_module()
class SelfConClassifier(MultiExitClassifier):
    r"""Self-Contrastive learning (Bae et al., AAAI 2023) trained jointly with
    cross-entropy: one view per image, contrast between sub-network exits and the
    backbone output.

    ``selfcon_pos[k]`` (one flag per backbone output before the last, the authors'
    notation) attaches an exit after output ``k``: a :class:`StageExit` (by default
    ``'resnet'``: fresh copies of the later residual layers, the authors'
    ``selfcon_size='same'``; ``'fc'`` is their CIFAR script's lighter choice,
    ``'sepconv'`` CDS's SepConv path). Every exit and the backbone's pooled output get
    their own projector MLP (Linear-ReLU-Linear to ``feat_dim``, L2-normalised), giving
    :math:`z_1, \dots, z_E, z_B`. For N images with labels :math:`y`, training returns

    .. math::

        \texttt{loss} &= \mathrm{CE}(h(x_S), y) \\
        \texttt{loss\_selfcon} &= \gamma\,
            \mathrm{SupCon}\big([z_1, \dots, z_E, z_B] \in \mathbb{R}^{N \times (E+1)
            \times D}, y\big) \\
        \texttt{loss\_exit\_stage}k &= \alpha\, \mathrm{CE}(g_k(e_k), y)

    SupCon is ``selfcon_loss`` (``ContrastiveDSLoss``): the exits' projections of the
    same image act as its "views", so an anchor's positives are the same image at the
    other exits and every projection of a same-class image. The last term trains a
    classifier on each exit (the authors' one-stage ``main_ce.py`` method 'selfcon'
    uses :math:`\alpha = 1`, :math:`\gamma = 0.8`); ``exit_loss_weight=0`` leaves the
    exits without classifiers (pure SelfCon + CE, no ``loss_exit_*`` keys).

    Inference (``predict``) uses the backbone output through ``neck`` and ``head``, as
    ``ImageClassifier`` does; with ``ensemble_exits=True`` it averages the softmax of
    the main head and of every exit classifier instead. ``tensor`` mode always returns
    the main head's logits. State-dict keys: ``backbone.``, ``neck.``, ``head.`` as in
    ``ImageClassifier``; ``selfcon_exits.``, ``selfcon_projectors.`` and
    ``exit_heads.`` for the rest.

    Args:
        backbone (dict): must output every stage up to the last exit and the last
            stage, e.g. ResNet with ``out_indices=(0, 1, 2, 3)``.
        selfcon_pos (Sequence[bool], optional): one flag per backbone output but the
            last. Defaults to the authors' ResNet choice, an exit after the second
            stage: ``[False, True, False]`` for a 4-stage backbone.
        exit_type (str): see :class:`StageExit`. Defaults to 'resnet'.
        feat_dim (int): projection size D. Defaults to 128.
        selfcon_loss (dict, optional): Defaults to ``ContrastiveDSLoss`` with
            temperature 0.1 (the authors' SelfCon scripts) and weight 0.8.
        exit_loss_weight (float): :math:`\alpha`. Defaults to 1.0.
        ensemble_exits (bool): predict with the ensemble. Defaults to False.
        neck, head, pretrained, train_cfg, data_preprocessor, init_cfg: as in
            ``ImageClassifier``.
    """

    def __init__(self,
                 backbone: dict,
                 selfcon_pos: Optional[Sequence[bool]] = None,
                 exit_type: str = 'resnet',
                 feat_dim: int = 128,
                 selfcon_loss: Optional[dict] = None,
                 exit_loss_weight: float = 1.0,
                 ensemble_exits: bool = False,
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
        num_exits_max = len(self.stage_channels) - 1
        if selfcon_pos is None:
            if num_exits_max < 2:
                raise ValueError(
                    'SelfConClassifier: the default selfcon_pos (an exit after the '
                    'second stage) needs a backbone that outputs every stage, e.g. '
                    f'out_indices=(0, 1, 2, 3); this one has {num_exits_max + 1} '
                    'outputs. Set out_indices or selfcon_pos explicitly')
            # The authors' default for ResNet: one exit after layer2.
            selfcon_pos = [stage == 1 for stage in range(num_exits_max)]
        selfcon_pos = [bool(p) for p in selfcon_pos]
        if len(selfcon_pos) != num_exits_max or not any(selfcon_pos):
            raise ValueError(
                f'SelfConClassifier.selfcon_pos needs one flag per backbone output '
                f'but the last ({num_exits_max} for this backbone) and at least one '
                f'True, got {selfcon_pos}')
        if exit_loss_weight < 0:
            raise ValueError('SelfConClassifier.exit_loss_weight must be >= 0, got '
                             f'{exit_loss_weight}')
        if ensemble_exits and exit_loss_weight == 0:
            raise ValueError('SelfConClassifier.ensemble_exits needs exit classifiers;'
                             ' set exit_loss_weight > 0')
        self.selfcon_pos = selfcon_pos
        self.exit_stages = tuple(k for k, p in enumerate(selfcon_pos) if p)
        self.ensemble_exits = ensemble_exits

        self.selfcon_exits = nn.ModuleDict()
        self.exit_heads = nn.ModuleDict()
        self.selfcon_projectors = nn.ModuleDict()
        for stage in self.exit_stages:
            key = f'stage{stage + 1}'
            exit_ = StageExit(stage, self.stage_channels, exit_type, self.backbone)
            self.selfcon_exits[key] = exit_
            self.selfcon_projectors[key] = self._projector(exit_.out_channels, feat_dim)
            if exit_loss_weight > 0:
                self.exit_heads[key] = linear_head_like(
                    self.head, exit_.out_channels, exit_loss_weight,
                    'SelfConClassifier')
        backbone_channels = getattr(self.head, 'in_channels', self.stage_channels[-1])
        self.selfcon_projectors['backbone'] = self._projector(backbone_channels,
                                                              feat_dim)
        self.selfcon_loss = MODELS.build(selfcon_loss or dict(
            type='ContrastiveDSLoss', temperature=0.1, loss_weight=0.8))

    @staticmethod
    def _projector(in_channels: int, feat_dim: int) -> nn.Module:
        """The authors' 'mlp' head: Linear(C, C) - ReLU - Linear(C, D)."""
        return nn.Sequential(
            nn.Linear(in_channels, in_channels), nn.ReLU(inplace=True),
            nn.Linear(in_channels, feat_dim))

    def _check_single_view(self, inputs):
        if not isinstance(inputs, torch.Tensor):
            raise ValueError(
                'SelfConClassifier trains on one view per image, a batch of shape '
                f'(N, C, H, W), but got {type(inputs).__name__}; use a single-view '
                'train pipeline (no MultiView) and ClsDataPreprocessor')

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """
        Args:
            inputs (Tensor): (N, C, H, W), one view per image.
            data_samples (list[DataSample]): N samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss``, ``loss_selfcon`` and, when exit classifiers
            exist, ``loss_exit_stage{k}``.
        """
        self._check_single_view(inputs)
        stage_feats = self.backbone(inputs)
        neck_out = self._classifier_features(stage_feats)
        losses = self.head.loss(neck_out, data_samples)

        embeddings = []
        for stage in self.exit_stages:
            key = f'stage{stage + 1}'
            exit_feat = self.selfcon_exits[key](stage_feats[stage])  # (N, C)
            embeddings.append(self.selfcon_projectors[key](exit_feat))
            if key in self.exit_heads:
                losses[f'loss_exit_{key}'] = \
                    self.exit_heads[key].loss((exit_feat, ), data_samples)['loss']
        embeddings.append(self.selfcon_projectors['backbone'](self._pooled(neck_out)))
        # E + 1 "views" of every image: (N, E + 1, D), unit rows.
        features = nn.functional.normalize(torch.stack(embeddings, dim=1), dim=2)
        losses['loss_selfcon'] = self.selfcon_loss(
            features, labels_of(data_samples, inputs.device))
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The main head's prediction, or with ``ensemble_exits`` the mean softmax
        of the main head and the exit classifiers (``pred_score`` (K,) per sample)."""
        if not self.ensemble_exits:
            return super().predict(inputs, data_samples, **kwargs)
        stage_feats = self.backbone(inputs)
        logits = [self.head(self._classifier_features(stage_feats))]
        for stage in self.exit_stages:
            key = f'stage{stage + 1}'
            logits.append(self.exit_heads[key](
                (self.selfcon_exits[key](stage_feats[stage]), )))
        scores = average_softmax(logits)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.size(0))]
        for sample, score in zip(data_samples, scores):
            sample.set_pred_score(score).set_pred_label(score.argmax(keepdim=True))
        return data_samples
