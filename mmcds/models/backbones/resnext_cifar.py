"""ResNeXt with the CIFAR stem (3x3 conv, stride 1, no max-pool)."""
from mmpretrain.models.backbones import ResNeXt
from mmpretrain.registry import MODELS

from .cifar_stem import CIFARStemMixin


@MODELS.register_module()
class ResNeXt_CIFAR(CIFARStemMixin, ResNeXt):
    """mmpretrain's ``ResNeXt`` with ``ResNet_CIFAR``'s stem and forward.

    The stem is one 3x3 convolution of stride 1 (+ norm + ReLU) and there is no
    max-pool, as in mmpretrain's ``ResNet_CIFAR`` and the reference CIFAR ResNets
    (contrastive-deep-supervision, ``CIFAR/resnet.py``: "reduce the kernel-size and
    stride ... remove maxpooling layer"); the residual stages are ``ResNeXt``'s
    grouped bottlenecks (``groups`` x ``width_per_group``, default 32x4d). A 32x32
    image gives stage maps of 32, 16, 8 and 4 pixels.

    Args:
        depth (int): 50, 101 or 152.
        **kwargs: ``ResNeXt``'s other arguments (groups, width_per_group,
            out_indices, ...). ``deep_stem`` is not supported.
    """
