# ResNet-34 with Contrastive Deep Supervision on ImageNet-1k (resnet18_8xb32_in1k.py
# with depth 34).
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(depth=34))
