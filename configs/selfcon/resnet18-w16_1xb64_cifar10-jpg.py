# SelfCon + cross-entropy (_base_/methods/selfcon.py) on the narrow CIFAR ResNet-18 of
# configs/ce/resnet18-w16_1xb64_cifar10-jpg.py, same (single-view) data pipeline,
# schedule and seed.
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/selfcon.py']

model = _base_.selfcon_model
