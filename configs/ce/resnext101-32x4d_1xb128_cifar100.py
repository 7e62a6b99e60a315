# resnext50-32x4d_1xb128_cifar100.py with depth 101 (32x4d, as mmpretrain's
# resnext101_32x4d; the paper does not give the cardinality and width).
_base_ = './resnext50-32x4d_1xb128_cifar100.py'

model = dict(backbone=dict(depth=101))
