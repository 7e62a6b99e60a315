# seresnet18_1xb128_cifar100.py with depth 50 (mmpretrain's SE bottlenecks).
_base_ = './seresnet18_1xb128_cifar100.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
