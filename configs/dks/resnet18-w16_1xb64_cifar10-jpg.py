# Deeply-supervised Knowledge Synergy (_base_/methods/dks.py): the CIFAR DSN config plus
# pairwise KL (T = 3) between all four classifiers.
_base_ = ['../dsn/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/dks.py']

model = _base_.dks_model
