# ResNet-101 with Contrastive Deep Supervision on ImageNet-1k (resnet50_8xb32_in1k.py
# with depth 101): the teacher of configs/distill/resnet50_r101-teacher_8xb32_in1k.py.
_base_ = './resnet50_8xb32_in1k.py'

model = dict(backbone=dict(depth=101))
