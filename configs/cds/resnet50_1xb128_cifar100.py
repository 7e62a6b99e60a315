# ResNet-50 with Contrastive Deep Supervision on CIFAR-100 (resnet18_1xb128_cifar100.py
# with depth 50 and its 2048-channel head): the teacher of
# configs/distill/resnet18_r50-teacher_1xb128_cifar100.py.
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(backbone=dict(depth=50), head=dict(in_channels=2048))
