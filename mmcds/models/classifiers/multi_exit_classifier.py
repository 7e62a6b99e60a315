"""The base of the classifiers with exits on intermediate stages.

CDS, DSN, DKS and SelfCon build on it."""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample

from ..utils import (StageExit, infer_stage_channels, linear_head_like,
                     per_stage_values, validate_exit_stages)


class MultiExitClassifier(ImageClassifier):
    """An ``ImageClassifier`` that supervises intermediate backbone stages.

    Its multi-output backbone feeds only its last output to the neck and head;
    subclasses supervise the earlier outputs.

    Every argument is ``ImageClassifier``'s (passed through as keyword arguments), so
    ``predict`` and ``tensor`` modes and the ``backbone.``/``neck.``/``head.`` state
    dict keys are a plain classifier's: at test time the exits cost nothing, and a
    checkpoint's classifier part loads into a plain mmpretrain config.

    Exits (:meth:`build_exits`) share one vocabulary across the subclasses:
    ``exit_stages`` (0-based backbone outputs that get one), ``exit_type`` (see
    :class:`~mmcds.models.utils.StageExit`), ``exit_loss_weight`` (weight of each
    exit's cross-entropy; 0 builds no exit classifier); the modules live under
    ``exits.stage{k}`` and ``exit_heads.stage{k}`` (k 1-based), their losses are
    logged as ``loss_exit_stage{k}``.

    Modules a plain classifier lacks (exits, projection heads, teachers) are built
    inside :meth:`auxiliary_rng`, so they leave the global random stream where the
    plain ``ImageClassifier`` leaves it: with the same seed, the backbone, neck and
    head start from the same weights as the CE baseline's, and comparisons over
    seeds are paired in the initialisation too.

    Args:
        backbone (dict): must output every stage an exit reads plus the last one,
            e.g. ResNet with ``out_indices=(0, 1, 2, 3)``.
        **kwargs: ``ImageClassifier``'s other arguments (neck, head, pretrained,
            train_cfg, data_preprocessor, init_cfg).
    """

    def __init__(self, backbone: dict, **kwargs):
        super().__init__(backbone=backbone, **kwargs)
        owner = type(self).__name__
        if not self.with_head:
            raise ValueError(f'{owner}.head is not set: give the classifier on the '
                             'last backbone output, e.g. LinearClsHead')
        try:
            self.stage_channels = infer_stage_channels(self.backbone)
        except ValueError as err:
            raise ValueError(f'{owner}.backbone: {err}') from None
        if len(self.stage_channels) < 2:
            raise ValueError(f'{owner}.backbone.out_indices: the backbone returns one '
                             'output, but this model supervises intermediate stages; '
                             'set e.g. backbone.out_indices=(0, 1, 2, 3)')

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs, stage='neck'):
        """Features as ``ImageClassifier.extract_feat`` gives them.

        As ``ImageClassifier.extract_feat``, but the neck and head see only the
        last backbone output (``stage='backbone'`` returns every output)."""
        x = self.backbone(inputs)
        if stage == 'backbone':
            return x
        return self.classifier_features(x, stage)

    def classifier_features(self, stage_feats: Sequence[torch.Tensor],
                            stage: str = 'neck'):
        """The main head's input from the backbone outputs.

        The main head's input (``'neck'``) or pre-logits (``'pre_logits'``) from
        the backbone outputs ``stage_feats`` (only the last one is used)."""
        x = tuple(stage_feats[-1:])
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        if stage != 'pre_logits':
            raise ValueError(f'{type(self).__name__}.extract_feat: stage must be '
                             f"'backbone', 'neck' or 'pre_logits', got {stage!r}")
        return self.head.pre_logits(x)

    @staticmethod
    def pooled(neck_out) -> torch.Tensor:
        """(N, C) from a neck output (already pooled, or a feature map to pool)."""
        x = neck_out[-1] if isinstance(neck_out, (tuple, list)) else neck_out
        return F.adaptive_avg_pool2d(x, 1).flatten(1) if x.dim() == 4 else x

    @contextlib.contextmanager
    def auxiliary_rng(self) -> Iterator[None]:
        """Build modules on a random stream of their own (global stream untouched).

        Inside, torch's CPU generator is seeded with ``torch.initial_seed()`` plus
        a per-model counter (so two blocks of one model differ, and a seed gives
        the same modules every time); on exit the global state is restored.
        Without it, the default initialisation of the extra modules would draw from
        the global stream, and the backbone's ``init_weights`` (run later by the
        runner) would start elsewhere than CE's for the same seed."""
        self._auxiliary_blocks = getattr(self, '_auxiliary_blocks', 0) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((torch.initial_seed() + 7919 * self._auxiliary_blocks)
                              % 2**63)
            yield

    # --------------------------------------------------------------------- exits
    def build_exits(self, exit_stages: Optional[Sequence[int]], exit_type: str,
                    exit_loss_weight: Union[float, Sequence[float]]) -> None:
        """Build the exits and their classifiers.

        Build ``self.exits`` and, for every stage whose weight is > 0,
        ``self.exit_heads`` (a ``LinearClsHead`` like the main head)."""
        owner = type(self).__name__
        self.exit_stages = validate_exit_stages(len(self.stage_channels), exit_stages,
                                                owner)
        self.exit_loss_weights = per_stage_values(
            exit_loss_weight, len(self.exit_stages), owner, 'exit_loss_weight')
        self.exits = nn.ModuleDict()
        self.exit_heads = nn.ModuleDict()
        with self.auxiliary_rng():
            for stage, weight in zip(self.exit_stages, self.exit_loss_weights):
                key = self.exit_key(stage)
                self.exits[key] = StageExit(stage, self.stage_channels, exit_type,
                                            self.backbone, owner)
                if weight > 0:
                    self.exit_heads[key] = linear_head_like(
                        self.head, self.exits[key].out_channels, weight, owner)

    @staticmethod
    def exit_key(stage: int) -> str:
        """The module key of the exit on a 0-based backbone output.

        The module key of the exit on 0-based output ``stage``: ``'stage{k}'``,
        k 1-based as in the loss names."""
        return f'stage{stage + 1}'

    def exit_features(self,
                      stage_feats: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{'stage{k}': (N, C) pooled exit features}`` of every exit."""
        return {
            self.exit_key(stage): self.exits[self.exit_key(stage)](stage_feats[stage])
            for stage in self.exit_stages
        }

    def exit_logits(self,
                    exit_feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{'stage{k}': (N, num_classes) logits}`` of every exit classifier."""
        return {key: head((exit_feats[key], )) for key, head in self.exit_heads.items()}

    def exit_losses(self, exit_feats: Dict[str, torch.Tensor],
                    data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Every exit classifier's weighted cross-entropy.

        ``{'loss_exit_stage{k}': weighted cross-entropy}`` of every exit
        classifier, through the head's public ``loss``."""
        return {
            f'loss_exit_{key}': head.loss((exit_feats[key], ), data_samples)['loss']
            for key, head in self.exit_heads.items()
        }
