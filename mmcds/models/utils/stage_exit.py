"""An exit after an intermediate backbone stage: feature map -> pooled vector."""
import copy
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .sep_conv import sep_conv_path

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
    """An exit after backbone output ``stage``: feature map -> pooled vector.

    ``exit_type``:

    - ``'sepconv'``: the SepConv chain (:func:`sep_conv_path`) through the later
      stages' channels, then global average pooling: the same shape of head as the
      CDS projection heads, so the baselines get the auxiliary capacity CDS gets.
    - ``'resnet'``: fresh copies (re-initialised) of the backbone's later residual
      layers, then pooling: SelfCon's ``selfcon_size='same'`` sub-network. Needs a
      ResNet-style backbone (``res_layers``) that outputs every stage.
    - ``'fc'``: pooling, then ``Linear(C_stage, C_last)``: SelfCon's
      ``selfcon_size='fc'`` (the authors' CIFAR scripts).
    - ``'pool'``: pooling only (``C_stage`` outputs): a linear classifier on pooled
      stage features, DSN's lightest form.

    Args:
        stage (int): 0-based index of the backbone output the exit reads.
        stage_channels (Sequence[int]): channels of every backbone output.
        exit_type (str): one of :data:`EXIT_TYPES`.
        backbone (nn.Module, optional): needed by ``'resnet'`` exits.
        owner (str): the model building the exit, for error messages.

    Shapes:
        input ``(N, C_stage, H, W)``; output ``(N, out_channels)``.
    """

    def __init__(self,
                 stage: int,
                 stage_channels: Sequence[int],
                 exit_type: str = 'sepconv',
                 backbone: Optional[nn.Module] = None,
                 owner: str = 'StageExit'):
        super().__init__()
        if exit_type not in EXIT_TYPES:
            raise ValueError(f'{owner}.exit_type must be one of {EXIT_TYPES}, got '
                             f'{exit_type!r}')
        if not 0 <= stage < len(stage_channels):
            raise ValueError(f'{owner}.exit_stages: stage {stage} is out of range for '
                             f'a backbone with {len(stage_channels)} outputs')
        self.stage, self.exit_type = stage, exit_type
        channel_path = tuple(stage_channels[stage:])
        self.trunk = nn.Identity()
        self.fc = nn.Identity()
        self.out_channels = channel_path[-1]
        if exit_type == 'sepconv':
            self.trunk = sep_conv_path(channel_path)
        elif exit_type == 'resnet':
            self.trunk = self._copy_later_layers(backbone, stage, len(stage_channels),
                                                 owner)
        elif exit_type == 'fc':
            self.fc = nn.Linear(channel_path[0], channel_path[-1])
        else:
            self.out_channels = channel_path[0]

    @staticmethod
    def _copy_later_layers(backbone, stage: int, num_outputs: int,
                           owner: str) -> nn.Sequential:
        res_layers = getattr(backbone, 'res_layers', None)
        out_indices = tuple(getattr(backbone, 'out_indices', ()))
        if not res_layers:
            raise ValueError(f"{owner}.exit_type='resnet' copies the backbone's later "
                             'residual layers and needs a ResNet-style backbone with '
                             f'res_layers; {type(backbone).__name__} has none')
        if out_indices != tuple(range(len(res_layers))) or num_outputs != len(res_layers):
            raise ValueError(f"{owner}.exit_type='resnet' needs the backbone to output "
                             'every stage: set backbone.out_indices='
                             f'{tuple(range(len(res_layers)))} (got {out_indices})')
        trunk = nn.Sequential(*[
            copy.deepcopy(getattr(backbone, name)) for name in res_layers[stage + 1:]
        ])
        for param in trunk.parameters():  # frozen_stages must not freeze the copy
            param.requires_grad_(True)
        _kaiming_init(trunk)
        return trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_stage, H, W) -> (N, out_channels)."""
        x = F.adaptive_avg_pool2d(self.trunk(x), 1).flatten(1)
        return self.fc(x)
