"""mmpretrain's ImageNet ResNet without the stem's max-pool: the CDS authors' network."""
import torch.nn as nn
from mmpretrain.models.backbones import ResNet
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ResNetNoMaxPool(ResNet):
    """mmpretrain's ``ResNet`` whose stem has no max-pool, as the CDS authors run it.

    The authors' ImageNet ResNet (contrastive-deep-supervision,
    ``ImageNet/Contrastive_Deep_Supervision/resnet.py``) defines ``self.maxpool`` but
    its ``_forward_impl`` goes from ``conv1 -> bn1 -> relu`` straight to ``layer1``, so
    the residual stages run at twice the usual resolution: a 224 px image gives stage
    maps of 112, 56, 28 and 14 px (56, 28, 14, 7 with the max-pool). Everything else is
    mmpretrain's ``ResNet`` (7x7 stride-2 stem, ``style='pytorch'``: the stride on the
    3x3 convolution, as torchvision's and the authors' bottleneck); the stride-2
    max-pool becomes an identity.

    Cost (``mmengine.analysis.FlopAnalyzer``, one multiply-add per FLOP, 224 px, the
    whole classifier with a 1000-class head; ``tests/test_resnet_no_maxpool.py``):
    ResNet-18 6.92 G (1.82 G with the max-pool), ResNet-34 14.32 G (3.67 G),
    ResNet-50 16.08 G (4.11 G); about 4x the activation memory. The parameters and
    state-dict keys are ``ResNet``'s (the max-pool has none), so a checkpoint of this
    network loads into mmpretrain's ``ResNet`` (or torchvision's) without a key error
    and then computes something else: test it with the config it was trained with.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        **kwargs: ``ResNet``'s other arguments.

    Shapes:
        input ``(N, 3, H, W)``; stage ``i`` (0-based) output
        ``(N, C_i, H / 2^(i+1), W / 2^(i+1))`` (for ``out_indices``).
    """

    def _make_stem_layer(self, in_channels, stem_channels):
        super()._make_stem_layer(in_channels, stem_channels)
        self.maxpool = nn.Identity()
