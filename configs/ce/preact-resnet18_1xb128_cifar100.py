# resnet18_1xb128_cifar100.py with a pre-activation ResNet-18 (He et al., ECCV 2016):
# mmcds's PreActResNet_CIFAR.
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(backbone=dict(type='PreActResNet_CIFAR'))
