"""Auxiliary classifiers shaped like the main head, and their ensemble."""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


def linear_head_like(main_head: nn.Module, in_channels: int, loss_weight: float,
                     owner: str) -> nn.Module:
    """A ``LinearClsHead`` like the main head for other features.

    A ``LinearClsHead`` with the main head's classes and cross-entropy flags,
    reading ``in_channels`` features, its loss scaled by ``loss_weight``.

    Raises:
        ValueError: the main head has no ``num_classes``.
    """
    num_classes = getattr(main_head, 'num_classes', None)
    if num_classes is None:
        raise ValueError(f"{owner}.head: {type(main_head).__name__} has no "
                         "num_classes, which the exit classifiers copy; use a "
                         'classification head such as LinearClsHead')
    loss_cfg = dict(type='CrossEntropyLoss')
    loss_module = getattr(main_head, 'loss_module', None)
    if loss_module is not None and type(loss_module).__name__ == 'CrossEntropyLoss':
        # Mirror the main head's CE flags (soft targets under Mixup/CutMix, class
        # weights), so an exit's loss differs from the main one only in weight.
        loss_cfg.update(use_sigmoid=loss_module.use_sigmoid,
                        use_soft=loss_module.use_soft,
                        class_weight=loss_module.class_weight)
    loss_cfg['loss_weight'] = float(loss_weight)
    return MODELS.build(
        dict(type='LinearClsHead', num_classes=num_classes, in_channels=in_channels,
             loss=loss_cfg))


def average_softmax(logits: List[torch.Tensor]) -> torch.Tensor:
    """The mean of several classifiers' softmax probabilities.

    The (N, K) mean of the softmax probabilities of E classifiers' (N, K) logits,
    in float32."""
    return torch.stack([F.softmax(z.float(), dim=1) for z in logits]).mean(0)
