"""The reference code's SepConv block and chains of them.

The reference code's SepConv block and the chain of them that takes a stage's
feature map to the last stage's size (CDS projection heads, DSN/DKS exits)."""
from typing import Sequence

import torch.nn as nn
from mmcv.cnn import DepthwiseSeparableConvModule


def sep_conv_block(in_channels: int, out_channels: int, norm_cfg: dict,
                   act_cfg: dict) -> nn.Sequential:
    """One SepConv block: halves the resolution and maps to ``out_channels``.

    [depthwise 3x3 stride 2 -> pointwise 1x1 -> BN -> ReLU ->
     depthwise 3x3 -> pointwise 1x1 to ``out_channels`` -> BN -> ReLU], no conv biases
    (contrastive-deep-supervision, ``SepConv`` in its ResNet files).

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, out_channels, ceil(H/2), ceil(W/2))``.
    """
    common = dict(kernel_size=3, padding=1, bias=False, norm_cfg=norm_cfg,
                  act_cfg=act_cfg, dw_norm_cfg=None, dw_act_cfg=None)
    return nn.Sequential(
        DepthwiseSeparableConvModule(in_channels, in_channels, stride=2, **common),
        DepthwiseSeparableConvModule(in_channels, out_channels, stride=1, **common))


def sep_conv_path(channel_path: Sequence[int], norm_cfg: dict = dict(type='BN'),
                  act_cfg: dict = dict(type='ReLU')) -> nn.Sequential:
    """SepConv blocks walking the channel counts ``channel_path`` pairwise.

    ``channel_path = (C_k, ..., C_{S-1})`` (stage k's channels and every later
    stage's) gives ``S - 1 - k`` blocks, each halving the resolution, ending at the
    last stage's channels; a single entry gives an empty (identity) chain.

    Shapes: ``(N, C_k, H, W)`` -> ``(N, C_{S-1}, H / 2^(S-1-k), W / 2^(S-1-k))``.
    """
    channel_path = tuple(int(c) for c in channel_path)
    return nn.Sequential(*[
        sep_conv_block(c_in, c_out, norm_cfg, act_cfg)
        for c_in, c_out in zip(channel_path[:-1], channel_path[1:])
    ])
