"""Base of the classifiers with exits on intermediate stages (CDS, DSN, DKS, SelfCon)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier


def infer_stage_channels(backbone: nn.Module,
                         probe_sizes: Sequence[int] = (64, 224)) -> Tuple[int, ...]:
    """Channels of each output of ``backbone`` (a tuple of (B, C, H, W) maps), found by
    one forward pass on a zero image in eval mode (no state is changed).

    The small size is tried first (cheap); backbones that need more pixels (e.g. Swin's
    7x7 windows at 1/32 scale) get the next size.
    """
    was_training = backbone.training
    backbone.eval()
    param = next(backbone.parameters())
    errors = []
    try:
        for size in probe_sizes:
            try:
                with torch.no_grad():
                    outs = backbone(param.new_zeros(1, 3, size, size))
                break
            except Exception as err:  # any failure: try the next size, then report
                errors.append(f'{size}x{size}: {type(err).__name__}: {err}')
        else:
            raise ValueError('could not probe the backbone\'s stage channels with a '
                             'zero image (' + '; '.join(errors) + ')')
    finally:
        backbone.train(was_training)
    if not isinstance(outs, (tuple, list)) or any(o.dim() != 4 for o in outs):
        raise ValueError('it needs a backbone that returns a tuple of (B, C, H, W) '
                         'stage maps')
    return tuple(o.shape[1] for o in outs)


class MultiExitClassifier(ImageClassifier):
    """``ImageClassifier`` with a multi-output backbone whose last output alone feeds
    the neck and head; subclasses add exits on the earlier outputs.

    Needs ``backbone.out_indices`` covering every stage an exit reads plus the last,
    e.g. ``(0, 1, 2, 3)`` for ResNet.
    """

    def __init__(self, backbone: dict, **kwargs):
        super().__init__(backbone=backbone, **kwargs)
        if not self.with_head:
            raise ValueError(f'{type(self).__name__} needs a head (the classifier on '
                             'the last backbone output)')
        try:
            self.stage_channels = infer_stage_channels(self.backbone)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}: {err}') from None
        if len(self.stage_channels) < 2:
            raise ValueError(f'{type(self).__name__} supervises intermediate stages '
                             'but the backbone returns one output; set e.g. '
                             'backbone.out_indices=(0, 1, 2, 3)')

    def extract_feat(self, inputs, stage='neck'):
        """As ``ImageClassifier.extract_feat``, but the neck and head see only the
        last backbone output."""
        x = self.backbone(inputs)
        if stage == 'backbone':
            return x
        return self._classifier_features(x, stage)

    def _classifier_features(self, stage_feats, stage='neck'):
        x = tuple(stage_feats[-1:])
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        assert stage == 'pre_logits', f'Invalid output stage "{stage}"'
        return self.head.pre_logits(x)

    @staticmethod
    def _pooled(neck_out) -> torch.Tensor:
        """(N, C) from the neck output (GAP'd already or a feature map)."""
        x = neck_out[-1] if isinstance(neck_out, (tuple, list)) else neck_out
        return F.adaptive_avg_pool2d(x, 1).flatten(1) if x.dim() == 4 else x
