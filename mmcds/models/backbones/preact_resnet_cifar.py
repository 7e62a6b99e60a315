"""Pre-activation ResNet (He et al., ECCV 2016) with the CIFAR stem."""
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmpretrain.models.backbones import ResNet_CIFAR
from mmpretrain.registry import MODELS

from .preact_basic_block import PreActBasicBlock


@MODELS.register_module()
class PreActResNet_CIFAR(ResNet_CIFAR):
    """PreAct-ResNet for CIFAR on mmpretrain's ``ResNet_CIFAR``.

    He et al., "Identity Mappings in Deep Residual Networks" (ECCV 2016): the stem is
    a single 3x3 convolution of stride 1 (no norm, no activation, no max-pool: the
    first block pre-activates it), the stages are :class:`PreActBasicBlock` s whose
    shortcut convolutions have no norm layer, and the last stage's output gets the
    final BN-ReLU before pooling. The earlier stage outputs (``out_indices`` < 3) are
    the blocks' sums, un-normalised, as the next stage receives them.

    Args:
        depth (int): 18 or 34.
        **kwargs: ``ResNet_CIFAR``'s other arguments. ``avg_down``, ``deep_stem``
            and ``frozen_stages`` are not supported.
    """

    arch_settings = {
        18: (PreActBasicBlock, (2, 2, 2, 2)),
        34: (PreActBasicBlock, (3, 4, 6, 3)),
    }

    def __init__(self, depth: int, **kwargs):
        for field in ('avg_down', 'deep_stem'):
            if kwargs.get(field):
                raise ValueError(f'PreActResNet_CIFAR.{field}: not supported')
        if kwargs.get('frozen_stages', -1) >= 0:
            raise ValueError('PreActResNet_CIFAR.frozen_stages: not supported (the '
                             'stem has no norm layer to freeze); leave it at -1')
        super().__init__(depth, **kwargs)
        for layer_name in self.res_layers:
            for block in getattr(self, layer_name):
                if block.downsample is not None:
                    # ResLayer builds [conv, norm]; pre-activation shortcuts are
                    # the conv alone.
                    block.downsample = block.downsample[0]
        self.final_norm_name, final_norm = build_norm_layer(
            self.norm_cfg, self.feat_dim, postfix='_final')
        self.add_module(self.final_norm_name, final_norm)

    def _make_stem_layer(self, in_channels, base_channels):
        self.conv1 = build_conv_layer(self.conv_cfg, in_channels, base_channels,
                                      kernel_size=3, stride=1, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    @property
    def final_norm(self):
        return getattr(self, self.final_norm_name)

    def forward(self, x):
        """(N, 3, H, W) -> the ``out_indices`` stage maps, the last one BN-ReLU'd."""
        x = self.conv1(x)
        outs = []
        last = len(self.res_layers) - 1
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i == last:
                x = self.relu(self.final_norm(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
