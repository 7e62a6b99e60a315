"""SE-ResNet with the CIFAR stem, including the basic-block depths 18 and 34."""
from mmpretrain.models.backbones import SEResNet
from mmpretrain.registry import MODELS

from .cifar_stem import CIFARStemMixin
from .se_basic_block import SEBasicBlock


@MODELS.register_module()
class SEResNet_CIFAR(CIFARStemMixin, SEResNet):
    """mmpretrain's ``SEResNet`` with ``ResNet_CIFAR``'s stem and forward.

    The stem is one 3x3 convolution of stride 1 (+ norm + ReLU), no max-pool (as
    ``ResNet_CIFAR``). Besides ``SEResNet``'s bottleneck depths 50/101/152 it builds
    depths 18 and 34 from :class:`SEBasicBlock` (the paper's SE-ResNet-18; mmpretrain's
    ``SEResNet`` has no basic-block depths).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        se_ratio (int): squeeze ratio of every SE layer. Defaults to 16.
        **kwargs: ``ResNet``'s other arguments. ``deep_stem`` is not supported.
    """

    arch_settings = {
        18: (SEBasicBlock, (2, 2, 2, 2)),
        34: (SEBasicBlock, (3, 4, 6, 3)),
        **SEResNet.arch_settings
    }
