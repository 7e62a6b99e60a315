# Cross-entropy on CIFAR-100 with the reference CIFAR recipe (the "Base" column of the
# paper's Table 1): the reference CIFAR ResNet-18, view 1 only, batch 128, SGD lr 0.1,
# weight decay 5e-4, 300 epochs, lr /10 at 90, 180, 280. The other networks' configs
# inherit it and change the backbone; paper numbers in configs/cds/README.md.
_base_ = ['../_base_/models/resnet18_cifar100.py',
          '../_base_/datasets/cifar100_bs128.py',
          '../_base_/schedules/cifar100_bs128_300e.py', '../_base_/default_runtime.py']
