# ResNet-18 with Contrastive Deep Supervision on CIFAR-100: mmpretrain's CIFAR ResNet-18
# (ResNet_CIFAR: 3x3 stem, no max-pool, as the reference's CIFAR/resnet.py) on the
# reference CIFAR recipe (300 epochs, batch 128, two views). One GPU.
_base_ = ['mmpretrain::_base_/models/resnet18_cifar.py',
          '../_base_/datasets/cifar100_bs128_2views.py',
          '../_base_/schedules/cifar100_bs128_300e.py', '../_base_/default_runtime.py',
          '../_base_/methods/cds.py']

model = dict(_base_.method, head=dict(num_classes=100))
