# resnet18_1xb128_cifar100.py with a CIFAR Wide ResNet-50. Read as torchvision's
# wide_resnet50_2 and mmpretrain's wide-resnet50 base: ResNet-50 whose bottlenecks are
# twice as wide (128/256/512/1024 inner channels), same outputs 256..2048
# (base_channels=128, expansion=2); not Zagoruyko's WRN-depth-k family.
_base_ = './resnet18_1xb128_cifar100.py'

model = dict(
    backbone=dict(depth=50, base_channels=128, expansion=2),
    head=dict(in_channels=2048))
