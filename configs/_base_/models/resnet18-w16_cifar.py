# mmpretrain's CIFAR ResNet-18 (3x3 stem, no max-pool) at a quarter of its width (stem
# and base channels 16, so stages of 16/32/64/128): small enough for CPU runs.
_base_ = 'mmpretrain::_base_/models/resnet18_cifar.py'

model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128, topk=(1, 5)))
