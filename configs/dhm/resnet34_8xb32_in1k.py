# DHM-style deep supervision on ImageNet-1k with ResNet-34 (resnet18_8xb32_in1k.py with
# depth 34; the paper's Table 3).
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(depth=34))
