# resnet18_1xb128_cifar100.py with a CIFAR ResNeXt-50 (32 groups x 4 channels, the
# original ResNeXt-50 and mmpretrain's resnext50_32x4d; mmcds's ResNeXt_CIFAR stem).
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(
    backbone=dict(type='ResNeXt_CIFAR', depth=50, groups=32, width_per_group=4),
    head=dict(in_channels=2048))
