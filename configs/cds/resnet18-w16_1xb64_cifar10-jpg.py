# CDS on the narrow CIFAR ResNet-18 of configs/ce/resnet18-w16_1xb64_cifar10-jpg.py: a
# narrow, short smoke setting for CPUs (width 16, 30 epochs, batch 64, cosine), not the
# paper's recipe (that is configs/cds/resnet18_1xb128_cifar100.py: full width, 300
# epochs). Same model, schedule and seed as CE; the two views follow the reference
# CIFAR recipe (contrastive-deep-supervision, CIFAR/train.py transform1/transform2).
_base_ = ['../_base_/models/resnet18-w16_cifar.py',
          '../_base_/datasets/cifar10_jpg_bs64_2views.py',
          '../_base_/schedules/cifar10_bs64_cosine_30e.py',
          '../_base_/short_runtime.py', '../_base_/methods/cds.py']

model = _base_.method
