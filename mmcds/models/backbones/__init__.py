from .preact_resnet_cifar import PreActResNet_CIFAR
from .resnext_cifar import ResNeXt_CIFAR
from .seresnet_cifar import SEResNet_CIFAR

__all__ = ['PreActResNet_CIFAR', 'ResNeXt_CIFAR', 'SEResNet_CIFAR']
