from .preact_resnet_cifar import PreActResNet_CIFAR
from .resnet_no_maxpool import ResNetNoMaxPool
from .resnext_cifar import ResNeXt_CIFAR
from .seresnet_cifar import SEResNet_CIFAR

__all__ = ['PreActResNet_CIFAR', 'ResNetNoMaxPool', 'ResNeXt_CIFAR', 'SEResNet_CIFAR']
