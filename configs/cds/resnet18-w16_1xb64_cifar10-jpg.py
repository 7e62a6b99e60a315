# CDS on the narrow CIFAR ResNet-18 of configs/ce/resnet18-w16_1xb64_cifar10-jpg.py: a
# short smoke setting (30 epochs, width 16), not the paper's 300-epoch recipe. Same
# model, schedule and seed as CE; the two views follow the reference CIFAR recipe.
_base_ = ['../_base_/models/resnet18-w16_cifar.py',
          '../_base_/datasets/cifar10_jpg_bs64_2views.py',
          '../_base_/schedules/cifar10_bs64_cosine_30e.py',
          '../_base_/short_runtime.py', '../_base_/methods/cds.py']

model = _base_.method
