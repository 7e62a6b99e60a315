# wide-resnet50_1xb128_cifar100.py with depth 101 (torchvision's wide_resnet101_2).
_base_ = './wide-resnet50_1xb128_cifar100.py'

model = dict(backbone=dict(depth=101))
