# Plain cross-entropy on the CIFAR-10 JPEGs with a narrow CIFAR ResNet-18 (width 16), a
# short CPU setting (30 epochs, cosine) with the reference recipe's view 1. The other
# methods' CIFAR-10 configs share its model, data, schedule and seed.
_base_ = ['../_base_/models/resnet18-w16_cifar.py',
          '../_base_/datasets/cifar10_jpg_bs64.py',
          '../_base_/schedules/cifar10_bs64_cosine_30e.py', '../_base_/short_runtime.py']
