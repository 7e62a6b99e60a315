# Dynamic Hierarchical Mimicking on ImageNet-1k with ResNet-50 and the authors' branches
# for it (resnet18_8xb32_in1k.py with depth 50 and its 2048-channel head; the paper's
# Table 3).
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
