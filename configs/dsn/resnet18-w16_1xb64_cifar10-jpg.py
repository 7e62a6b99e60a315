# Deeply-Supervised Nets (_base_/methods/dsn.py) on the narrow CIFAR ResNet-18 of
# configs/ce/resnet18-w16_1xb64_cifar10-jpg.py, same data, schedule and seed.
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/dsn.py']

model = _base_.dsn_model
