# DHM-style deep supervision on CIFAR-100: the CE config of the reference CIFAR recipe
# (configs/ce/resnet18_1xb128_cifar100.py) plus _base_/methods/dhm.py.
_base_ = ['../ce/resnet18_1xb128_cifar100.py', '../_base_/methods/dhm.py']

model = _base_.method
