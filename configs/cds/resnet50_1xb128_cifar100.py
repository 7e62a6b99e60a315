# resnet18_1xb128_cifar100.py with the CIFAR ResNet-50 (bottlenecks, 2048-channel head).
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
