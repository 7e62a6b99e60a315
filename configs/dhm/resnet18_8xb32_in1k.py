# DHM-style deep supervision on ImageNet-1k: the CE config (mmpretrain's ResNet-18, the
# paper's 90-epoch schedule) plus _base_/methods/dhm.py.
_base_ = ['../ce/resnet18_8xb32_in1k.py', '../_base_/methods/dhm.py']

model = _base_.method
