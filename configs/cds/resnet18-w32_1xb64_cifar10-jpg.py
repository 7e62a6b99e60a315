# CDS on the CIFAR ResNet-18 at width 32 (stages of 32/64/128/256 channels; otherwise
# resnet18-w16_1xb64_cifar10-jpg.py): the wider teacher of the small distillation
# configs in configs/distill/ (*_r18-w32-teacher_*cifar10-jpg.py).
_base_ = './resnet18-w16_1xb64_cifar10-jpg.py'

model = dict(backbone=dict(stem_channels=32, base_channels=32),
             head=dict(in_channels=256))
