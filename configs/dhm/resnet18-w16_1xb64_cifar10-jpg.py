# DHM-style deep supervision on the CIFAR-10 JPEGs: the CE config (narrow CIFAR
# ResNet-18, one view, same schedule and seed) plus _base_/methods/dhm.py.
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/dhm.py']

model = _base_.method
