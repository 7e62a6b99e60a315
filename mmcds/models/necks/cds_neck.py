from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import sep_conv_path


@MODELS.register_module()
class CDSNeck(BaseModule):
    """Projection heads of Contrastive Deep Supervision, one per supervised stage.

    Stage ``i`` of ``S`` (0-based) gets ``S - 1 - i`` SepConv blocks that walk its
    features through the channel counts of the later stages (each halving the
    resolution), so every head ends at the last stage's channels ``C_{S-1}``; then
    global average pooling and L2 normalisation. The last stage's head only pools. An
    optional MLP projector (not in the paper) can follow the pooling on every head.
    Only the stages in ``stages`` get a head.

    Args:
        in_channels (Sequence[int]): channels of each stage's output, e.g.
            ``(256, 512, 1024, 2048)`` for ResNet-50. ``CDSClassifier`` fills it in
            from its backbone when left as None.
        stages (Sequence[int], optional): 0-based stages that get a head. Defaults
            to every stage (the reference code's four heads, ``auxiliary1..4``).
        projector (dict, optional): ``dict(hidden_channels=..., out_channels=...)`` for
            a Linear-BN-ReLU-Linear projector after pooling. Defaults to None (off).
        norm_cfg (dict): norm layer of the SepConv blocks. Defaults to BN.
        act_cfg (dict): activation of the SepConv blocks. Defaults to ReLU.
        init_cfg (dict, optional): mmengine init config.

    Shapes:
        input: tuple of ``S`` tensors, stage ``i`` of shape ``(B, C_i, H_i, W_i)``.
        output: tuple of ``len(stages)`` tensors of shape ``(B, D)`` with unit L2
        norm, where ``D = C_{S-1}`` or the projector's ``out_channels``.
    """

    def __init__(self,
                 in_channels: Optional[Sequence[int]] = None,
                 stages: Optional[Sequence[int]] = None,
                 projector: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if not in_channels:
            raise ValueError('CDSNeck.in_channels is not set: give the channel count '
                             'of every backbone stage it supervises, e.g. '
                             '(64, 128, 256, 512)')
        self.in_channels = tuple(int(c) for c in in_channels)
        num_stages = len(self.in_channels)
        stages = tuple(range(num_stages)) if stages is None else tuple(
            int(s) for s in stages)
        if not stages or len(set(stages)) != len(stages) or not all(
                0 <= s < num_stages for s in stages):
            raise ValueError(f'CDSNeck.stages={stages}: give distinct stages in '
                             f'0..{num_stages - 1} (one per backbone output)')
        self.stages = tuple(sorted(stages))
        self.heads = nn.ModuleList(
            sep_conv_path(self.in_channels[stage:], norm_cfg, act_cfg)
            for stage in self.stages)
        self.out_channels = self.in_channels[-1]
        self.projectors = None
        if projector is not None:
            unknown = set(projector) - {'hidden_channels', 'out_channels'}
            if unknown or 'out_channels' not in projector:
                raise ValueError('CDSNeck.projector: takes hidden_channels and '
                                 f'out_channels (required), got {sorted(projector)}')
            hidden = projector.get('hidden_channels', self.out_channels)
            self.projectors = nn.ModuleList(
                nn.Sequential(
                    nn.Linear(self.out_channels, hidden, bias=False),
                    nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                    nn.Linear(hidden, projector['out_channels']))
                for _ in self.stages)
            self.out_channels = projector['out_channels']

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """S stage maps (B, C_i, H_i, W_i) -> one unit-norm (B, D) per stage in
        ``stages``."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'CDSNeck.in_channels: built for {len(self.in_channels)} '
                             f'stages {self.in_channels} but got {len(inputs)} feature '
                             'maps; match backbone.out_indices')
        outputs = []
        for index, (stage, head) in enumerate(zip(self.stages, self.heads)):
            z = F.adaptive_avg_pool2d(head(inputs[stage]), 1).flatten(1)
            if self.projectors is not None:
                z = self.projectors[index](z)
            outputs.append(F.normalize(z, dim=1))
        return tuple(outputs)
