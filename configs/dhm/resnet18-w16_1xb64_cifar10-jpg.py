# DHM-style deep supervision on the CIFAR-10 JPEGs: the CE config (narrow CIFAR
# ResNet-18, one view, same schedule and seed) plus the approximation `dhm_style` of
# _base_/methods/dhm.py (same-width copies of the later stages after stages 1-3, KL
# between the main head and each exit; not the authors' two branches, see
# configs/dhm/README.md).
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/dhm.py']

model = _base_.dhm_style
