# The reference CIFAR ResNet-18 (contrastive-deep-supervision, CIFAR/resnet.py) on
# mmpretrain's ResNet_CIFAR: 3x3 stem of stride 1, no max-pool, full width (64), a
# linear classifier on 100 classes; no zero-initialised last BN in the residual
# branches (ResNet(..., zero_init_residual=False); mmpretrain's default is True).
_base_ = 'mmpretrain::_base_/models/resnet18_cifar.py'

model = dict(
    backbone=dict(zero_init_residual=False),
    head=dict(num_classes=100, topk=(1, 5)))
