# Distilled CDS on ImageNet-1k, ResNet-50 student. The paper does not name the teacher
# (the reference code's hard-coded ResNet-50 teacher and 512-input adaptation layers do
# not fit a ResNet-50 student); ours is a ResNet-101 CDS teacher
# (configs/cds/resnet101_8xb32_in1k.py), larger as the other pairs' teachers are. Both
# embed in 2048 dimensions, so no adaptation layer is built.
_base_ = './resnet18_r50-teacher_8xb32_in1k.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048),
             teacher_config='configs/cds/resnet101_8xb32_in1k.py')
