# Deeply-supervised Knowledge Synergy (_base_/methods/dks.py) on ImageNet-1k: the DSN
# config plus pairwise KL (T = 3) between all four classifiers.
_base_ = ['../dsn/resnet18_8xb32_in1k.py', '../_base_/methods/dks.py']

model = _base_.dks_model
