"""The CIFAR stem of mmpretrain's ResNet_CIFAR, for other ResNet-family backbones."""
from mmpretrain.models.backbones import ResNet_CIFAR


class CIFARStemMixin:
    """``ResNet_CIFAR``'s stem and forward for a subclass of another ResNet.

    Put it first in the bases (``class X_CIFAR(CIFARStemMixin, X)``): the stem becomes
    one 3x3 convolution of stride 1 with norm and ReLU, and the forward skips the
    max-pool, reusing mmpretrain's ``ResNet_CIFAR`` methods as they are. ``deep_stem``
    is refused, as ``ResNet_CIFAR`` does.
    """

    _make_stem_layer = ResNet_CIFAR._make_stem_layer
    forward = ResNet_CIFAR.forward

    def __init__(self, depth: int, **kwargs):
        if kwargs.get('deep_stem'):
            raise ValueError(f'{type(self).__name__}.deep_stem: not supported; the '
                             'CIFAR stem is one 3x3 convolution')
        super().__init__(depth, **kwargs)
