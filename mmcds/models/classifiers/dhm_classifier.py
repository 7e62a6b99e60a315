"""Dynamic Hierarchical Mimicking (Li & Chen, CVPR 2020) with its authors' branches."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import linear_head_like, per_stage_values
from ..utils.stage_exit import _kaiming_init
from .dks_classifier import DKSClassifier

# Blocks of the copied stages in the authors' branches, by ResNet depth
# (d-li14/DHM, models/imagenet/resnet.py: resnet18 [[1, 2], [2]], resnet34 and resnet50
# [[3, 2], [3]], resnet101 [[12, 2], [3]], resnet152 [[18, 2], [3]]):
# ((blocks of the stage S-2 copy, of the stage S-1 copy) after stage S-3,
#  (blocks of the wide stage S-1 copy, ) after stage S-2).
REFERENCE_BRANCH_BLOCKS = {
    18: ((1, 2), (2, )),
    34: ((3, 2), (3, )),
    50: ((3, 2), (3, )),
    101: ((12, 2), (3, )),
    152: ((18, 2), (3, )),
}


class DHMBranch(nn.Module):
    """One DHM branch: new residual stages from a backbone output to a pooled vector.

    ``len(blocks)`` fresh stages copy the layout (block type, stride, style, norm) of
    the backbone's stages after ``stage``, with ``blocks[i]`` blocks each; the last
    one is ``width_factor`` times as wide as the backbone's last stage. Weights start
    from ResNet's initialisation (Kaiming fan-out, BN 1/0), as the authors'
    ``ResNet.__init__`` initialises the branches with the trunk.

    Shapes: ``(N, C_stage, H, W)`` -> ``(N, out_channels)``, where
    ``out_channels = width_factor * C_{S-1}`` (``C_{S-1}``: the backbone's last stage).
    """

    exit_type = 'dhm'

    def __init__(self, backbone: ResNet, stage_channels: Sequence[int], stage: int,
                 blocks: Sequence[int], width_factor: int = 1):
        super().__init__()
        first = stage + 1
        layers = []
        in_channels = stage_channels[stage]
        for offset, num_blocks in enumerate(blocks):
            index = first + offset
            out_channels = stage_channels[index]
            if index == len(stage_channels) - 1:
                out_channels *= width_factor
            layers.append(backbone.make_res_layer(
                block=backbone.block, num_blocks=int(num_blocks),
                in_channels=in_channels, out_channels=out_channels,
                expansion=backbone.expansion, stride=backbone.strides[index],
                dilation=backbone.dilations[index], style=backbone.style,
                avg_down=backbone.avg_down, with_cp=backbone.with_cp,
                conv_cfg=backbone.conv_cfg, norm_cfg=backbone.norm_cfg))
            in_channels = out_channels
        self.trunk = nn.Sequential(*layers)
        self.out_channels = in_channels
        _kaiming_init(self.trunk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_stage, H, W) -> (N, out_channels)."""
        return F.adaptive_avg_pool2d(self.trunk(x), 1).flatten(1)


@MODELS.register_module()
class DHMClassifier(DKSClassifier):
    r"""Dynamic Hierarchical Mimicking as its authors build it on ResNets.

    Li & Chen, "Dynamic Hierarchical Mimicking Towards Consistent Optimization
    Objectives", CVPR 2020; reference code d-li14/DHM (``models/imagenet/resnet.py``,
    ``imagenet.py --mimic``). With ``exit_type='dhm'`` (the default) a backbone of
    :math:`S` stages gets two branches, each a new sub-network with its own
    ``LinearClsHead``:

    - after stage :math:`S-3` (``layer2`` of a ResNet; their ``head2``): copies of
      stages :math:`S-2` and :math:`S-1` at their widths, with fewer blocks (ResNet-18:
      1 and 2; ResNet-34/50: 3 and 2, :data:`REFERENCE_BRANCH_BLOCKS`);
    - after stage :math:`S-2` (``layer3``; their ``head1``): a copy of stage
      :math:`S-1` twice as wide (``_make_layer(block, 1024, ...)`` next to the trunk's
      512), with ResNet-18's 2 and ResNet-34/50's 3 blocks.

    The loss is :class:`DKSClassifier`'s with the authors' values: cross-entropy weight
    1 on each of the three classifiers, and ``loss_dhm_kl``, the batch-mean
    :math:`\mathrm{KL}(\bar p_j \| p_i)` at :math:`T = 1`, weight 1, summed over all
    six ordered pairs, the target detached (their loop over ``outputs`` adds
    ``alpha * KLDivLoss(output, output_counterpart.detach(), T)`` for every other
    output; ``utils/metric.py``: :math:`T^2\,\mathrm{mean}_n \sum_c p_c \log(p_c /
    q_c)` with :math:`p` the target; its 1e-8 smoothing of both distributions is
    left out). Inference is the main head's. Branch modules live under
    ``exits.stage{k}``, their classifiers under ``exit_heads.stage{k}`` (k 1-based:
    ``stage2`` and ``stage3`` on a ResNet), their losses are ``loss_exit_stage{k}``.

    Any other ``exit_type`` (see ``StageExit``) builds :class:`DKSClassifier`'s exits
    instead: ``exit_type='resnet', kl_pairs='main'`` is the DHM-style approximation of
    our earlier configs (full-depth, same-width copies of the later stages after
    stages 1-3, KL only between the main head and each exit).

    Args:
        backbone (dict): an mmpretrain ``ResNet`` (or subclass) outputting every
            stage, e.g. ``out_indices=(0, 1, 2, 3)``.
        branch_blocks (tuple, optional): ``((n_a, n_b), (n_c, ))``: blocks of the
            stage copies after stage S-3 and of the wide copy after stage S-2.
            Defaults to the authors' values for the backbone's depth.
        width_factor (int): width of the last-stage copy after stage S-2 relative
            to the backbone's last stage. Defaults to 2 (the authors').
        exit_type (str): 'dhm' or one of ``StageExit``'s types. Defaults to 'dhm'.
        exit_stages (Sequence[int], optional): with 'dhm' leave it unset (or give
            ``(S-3, S-2)``).
        **kwargs: :class:`DKSClassifier`'s other arguments (``kl_temperature``,
            ``kl_loss_weight``, ``kl_pairs``, ``kl_reduction``, ``detach_target``,
            ``exit_loss_weight``, one value or one per branch) and
            ``ImageClassifier``'s.
    """

    def __init__(self,
                 backbone: dict,
                 branch_blocks: Optional[Tuple[Sequence[int], Sequence[int]]] = None,
                 width_factor: int = 2,
                 exit_type: str = 'dhm',
                 exit_stages: Optional[Sequence[int]] = None,
                 **kwargs):
        if int(width_factor) < 1:
            raise ValueError(f'DHMClassifier.width_factor: must be an integer >= 1, '
                             f'got {width_factor}')
        # Plain attributes read by build_exits, which DSNClassifier.__init__ calls.
        self.branch_blocks = branch_blocks
        self.width_factor = int(width_factor)
        super().__init__(backbone=backbone, exit_type=exit_type,
                         exit_stages=exit_stages, **kwargs)

    def build_exits(self, exit_stages: Optional[Sequence[int]], exit_type: str,
                    exit_loss_weight: Union[float, Sequence[float]]) -> None:
        """The authors' two branches for ``exit_type='dhm'``, else DKS's exits."""
        if exit_type != 'dhm':
            return super().build_exits(exit_stages, exit_type, exit_loss_weight)
        owner = type(self).__name__
        num_stages = len(self.stage_channels)
        if not isinstance(self.backbone, ResNet) or num_stages < 3:
            raise ValueError(f"{owner}.exit_type='dhm' builds residual stages like the "
                             "backbone's and needs an mmpretrain ResNet (or subclass) "
                             'that outputs at least 3 stages; got '
                             f'{type(self.backbone).__name__} with {num_stages} outputs')
        if tuple(self.backbone.out_indices) != tuple(range(num_stages)) or \
                num_stages != len(self.backbone.res_layers):
            raise ValueError(f"{owner}.backbone.out_indices: exit_type='dhm' needs every "
                             'stage, e.g. '
                             f'{tuple(range(len(self.backbone.res_layers)))}')
        stages = (num_stages - 3, num_stages - 2)
        if exit_stages is not None and tuple(int(s) for s in exit_stages) != stages:
            raise ValueError(f"{owner}.exit_stages={tuple(exit_stages)}: exit_type='dhm' "
                             f'builds the branches after stages {stages} (0-based); '
                             'leave exit_stages unset or choose another exit_type')
        low, high = self._resolve_branch_blocks(owner)
        self.exit_stages = stages
        self.exit_loss_weights = per_stage_values(exit_loss_weight, 2, owner,
                                                  'exit_loss_weight')
        self.exits = nn.ModuleDict()
        self.exit_heads = nn.ModuleDict()
        with self.auxiliary_rng():
            for stage, blocks, width, weight in zip(
                    stages, (low, high), (1, self.width_factor),
                    self.exit_loss_weights):
                key = self.exit_key(stage)
                self.exits[key] = DHMBranch(self.backbone, self.stage_channels, stage,
                                            blocks, width)
                if weight > 0:
                    self.exit_heads[key] = linear_head_like(
                        self.head, self.exits[key].out_channels, weight, owner)

    def _resolve_branch_blocks(self, owner: str) -> Tuple[Tuple[int, int], Tuple[int]]:
        """``branch_blocks`` checked, or the authors' values for the depth."""
        blocks = self.branch_blocks
        if blocks is None:
            depth = getattr(self.backbone, 'depth', None)
            if depth not in REFERENCE_BRANCH_BLOCKS:
                raise ValueError(f'{owner}.branch_blocks: the authors give none for '
                                 f'depth {depth}; set e.g. branch_blocks=((1, 2), (2, ))')
            blocks = REFERENCE_BRANCH_BLOCKS[depth]
        try:
            low, high = (tuple(int(n) for n in part) for part in blocks)
        except (TypeError, ValueError):
            low = high = ()
        if len(low) != 2 or len(high) != 1 or min(low + high) < 1:
            raise ValueError(f'{owner}.branch_blocks={blocks!r}: give ((n_a, n_b), '
                             '(n_c, )), positive block counts of the two stage copies '
                             'after stage S-3 and of the wide copy after stage S-2')
        return low, high

    def extra_losses(self, neck_out, exit_feats: Dict[str, torch.Tensor],
                     data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """``{'loss_dhm_kl': ...}``: DKS's knowledge-matching term, DHM's name."""
        return {'loss_dhm_kl':
                super().extra_losses(neck_out, exit_feats, data_samples)['loss_dks_kl']}
