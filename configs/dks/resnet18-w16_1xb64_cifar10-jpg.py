# Deeply-supervised Knowledge Synergy on the CIFAR-10 JPEGs: the CE config (narrow
# CIFAR ResNet-18, one view, same schedule and seed) plus _base_/methods/dks.py.
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/dks.py']

model = _base_.method
