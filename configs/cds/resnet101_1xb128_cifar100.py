# resnet50_1xb128_cifar100.py with depth 101.
_base_ = './resnet50_1xb128_cifar100.py'

model = dict(backbone=dict(depth=101))
