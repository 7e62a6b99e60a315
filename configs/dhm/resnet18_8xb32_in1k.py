# Dynamic Hierarchical Mimicking on ImageNet-1k with its authors' branches: the CE config
# (mmpretrain's ResNet-18, zero_init_residual=False, the paper's 90-epoch schedule) plus
# _base_/methods/dhm.py. Branches, cost and the earlier approximation:
# configs/dhm/README.md.
_base_ = ['../ce/resnet18_8xb32_in1k.py', '../_base_/methods/dhm.py']

model = _base_.method
