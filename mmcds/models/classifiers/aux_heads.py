"""Pieces shared by the deep-supervision baselines (DSN, DKS) and SelfCon.

- :class:`StageExit`: maps one backbone stage's feature map to a pooled vector with the
  last stage's channels (an "exit" or "sub-network").
- :func:`linear_head_like`, :func:`exit_stages_of`, :func:`average_softmax`.

The classifiers' common base is ``MultiExitClassifier`` (multi_exit_classifier.py).

Nothing here is registered: these are building blocks of the registered classifiers.
"""
import copy
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..necks.cds_neck import sep_conv_block

EXIT_TYPES = ('sepconv', 'resnet', 'fc', 'pool')


def _kaiming_init(module: nn.Module) -> None:
    """ResNet's init (Kaiming fan-out for convs, BN weight 1 / bias 0): exits built
    as copies of backbone layers must not start from the backbone's own weights."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class StageExit(nn.Module):
    """An exit after backbone stage ``stage``: feature map -> pooled vector.

    ``exit_type``:

    - ``'sepconv'``: CDS's SepConv path (``sep_conv_block`` per later stage, each
      halving the resolution, through the later stages' channels), then global average
      pooling. The same shape of head as ``CDSNeck``'s, so the baselines get the
      auxiliary capacity CDS gets.
    - ``'resnet'``: fresh copies (re-initialised) of the backbone's later residual
      layers, then pooling: SelfCon's ``selfcon_size='same'`` sub-network. Needs a
      ResNet-style backbone (``res_layers``) that outputs every stage.
    - ``'fc'``: pooling, then ``Linear(C_stage, C_last)``: SelfCon's
      ``selfcon_size='fc'`` (the authors' CIFAR scripts).
    - ``'pool'``: pooling only (output channels ``C_stage``): DSN's lightest form,
      a linear classifier on pooled stage features.

    Shapes:
        input: ``(N, C_stage, H, W)``; output: ``(N, out_channels)``.

    Args:
        stage (int): 0-based index of the backbone output the exit reads.
        stage_channels (Sequence[int]): channels of every backbone output.
        exit_type (str): one of :data:`EXIT_TYPES`.
        backbone (nn.Module, optional): needed by ``'resnet'`` exits.
        norm_cfg, act_cfg (dict): of the SepConv blocks.
    """

    def __init__(self,
                 stage: int,
                 stage_channels: Sequence[int],
                 exit_type: str = 'sepconv',
                 backbone: Optional[nn.Module] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')):
        super().__init__()
        if exit_type not in EXIT_TYPES:
            raise ValueError(f'exit_type must be one of {EXIT_TYPES}, got {exit_type!r}')
        if not 0 <= stage < len(stage_channels):
            raise ValueError(f'exit stage {stage} is out of range for a backbone with '
                             f'{len(stage_channels)} outputs')
        self.stage, self.exit_type = stage, exit_type
        channel_path = tuple(stage_channels[stage:])
        self.trunk = nn.Identity()
        self.fc = nn.Identity()
        if exit_type == 'sepconv':
            self.trunk = nn.Sequential(*[
                sep_conv_block(c_in, c_out, norm_cfg, act_cfg)
                for c_in, c_out in zip(channel_path[:-1], channel_path[1:])
            ])
            self.out_channels = channel_path[-1]
        elif exit_type == 'resnet':
            self.trunk = self._copy_later_layers(backbone, stage, len(stage_channels))
            self.out_channels = channel_path[-1]
        elif exit_type == 'fc':
            self.fc = nn.Linear(channel_path[0], channel_path[-1])
            self.out_channels = channel_path[-1]
        else:
            self.out_channels = channel_path[0]

    @staticmethod
    def _copy_later_layers(backbone, stage: int, num_outputs: int) -> nn.Sequential:
        res_layers = getattr(backbone, 'res_layers', None)
        out_indices = tuple(getattr(backbone, 'out_indices', ()))
        if not res_layers:
            raise ValueError("exit_type='resnet' copies the backbone's later residual "
                             'layers and needs a ResNet-style backbone with '
                             f'res_layers; {type(backbone).__name__} has none')
        if out_indices != tuple(range(len(res_layers))) or num_outputs != len(res_layers):
            raise ValueError("exit_type='resnet' needs the backbone to output every "
                             f'stage, i.e. out_indices={tuple(range(len(res_layers)))},'
                             f' got out_indices={out_indices}')
        trunk = nn.Sequential(*[
            copy.deepcopy(getattr(backbone, name)) for name in res_layers[stage + 1:]
        ])
        for param in trunk.parameters():  # frozen_stages must not freeze the copy
            param.requires_grad_(True)
        _kaiming_init(trunk)
        return trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.trunk(x), 1).flatten(1)
        return self.fc(x)


def exit_stages_of(num_outputs: int, stages: Optional[Sequence[int]], owner: str,
                   field: str) -> Tuple[int, ...]:
    """Validate 0-based exit positions: unique, sorted, before the last output."""
    if stages is None:
        stages = range(num_outputs - 1)
    stages = tuple(int(s) for s in stages)
    if not stages:
        raise ValueError(f'{owner}.{field} selects no stage; give at least one of '
                         f'0..{num_outputs - 2}')
    bad = [s for s in stages if not 0 <= s < num_outputs - 1]
    if bad or len(set(stages)) != len(stages):
        raise ValueError(f'{owner}.{field}={stages}: every entry must be a distinct '
                         f'backbone output before the last, i.e. in 0..{num_outputs - 2}')
    return tuple(sorted(stages))


def linear_head_like(main_head: nn.Module, in_channels: int, loss_weight: float,
                     owner: str) -> nn.Module:
    """A ``LinearClsHead`` with the main head's classes and loss type, reading
    ``in_channels`` features, its loss scaled by ``loss_weight``."""
    num_classes = getattr(main_head, 'num_classes', None)
    if num_classes is None:
        raise ValueError(f'{owner} builds auxiliary LinearClsHeads with the main '
                         "head's num_classes, but the head has no num_classes")
    loss_cfg = dict(type='CrossEntropyLoss')
    loss_module = getattr(main_head, 'loss_module', None)
    if loss_module is not None and type(loss_module).__name__ == 'CrossEntropyLoss':
        # Mirror the main head's CE flags (soft targets under Mixup/CutMix, class
        # weights), so an auxiliary loss differs from the main one only in weight.
        loss_cfg.update(use_sigmoid=loss_module.use_sigmoid,
                        use_soft=loss_module.use_soft,
                        class_weight=loss_module.class_weight)
    loss_cfg['loss_weight'] = float(loss_weight)
    return MODELS.build(
        dict(type='LinearClsHead', num_classes=num_classes, in_channels=in_channels,
             loss=loss_cfg))


def average_softmax(logits: List[torch.Tensor]) -> torch.Tensor:
    """(N, K) mean of the exits' softmax probabilities."""
    return torch.stack([F.softmax(z.float(), dim=1) for z in logits]).mean(0)
