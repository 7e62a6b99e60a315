# ResNet-50 with Contrastive Deep Supervision on ImageNet-1k (resnet18_8xb32_in1k.py
# with depth 50 and its 2048-channel head).
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
