# Dynamic Hierarchical Mimicking on ImageNet-1k with ResNet-34 and the authors'
# branches for it (resnet18_8xb32_in1k.py with depth 34; the paper's Table 3).
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(depth=34))
