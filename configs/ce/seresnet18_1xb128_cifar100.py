# resnet18_1xb128_cifar100.py with SE blocks (squeeze ratio 16): mmcds's SEResNet_CIFAR.
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(backbone=dict(type='SEResNet_CIFAR'))
