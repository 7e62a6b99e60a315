# The cross-entropy baseline on ImageNet-1k: mmpretrain's ResNet-18 on the paper's
# 90-epoch schedule (lr x0.1 at 30 and 60), one view, 8 GPUs x 32 images.
_base_ = ['mmpretrain::_base_/models/resnet18.py',
          '../_base_/datasets/imagenet_bs32.py',
          '../_base_/schedules/imagenet_bs256_90e.py', '../_base_/default_runtime.py']
