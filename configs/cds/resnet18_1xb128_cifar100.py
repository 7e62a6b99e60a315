# Contrastive Deep Supervision on CIFAR-100, the reference CIFAR recipe
# (contrastive-deep-supervision, CIFAR/train.py): full-width CIFAR ResNet-18, two views,
# SupCon weight 0.1 on each of the four stages, batch 128, SGD lr 0.1, weight decay
# 5e-4, 300 epochs, lr /10 at 90, 180, 280. Paper numbers: configs/cds/README.md.
_base_ = ['../_base_/models/resnet18_cifar100.py',
          '../_base_/datasets/cifar100_bs128_2views.py',
          '../_base_/schedules/cifar100_bs128_300e.py', '../_base_/default_runtime.py',
          '../_base_/methods/cds.py']

model = _base_.method
