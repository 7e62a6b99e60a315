# ResNet-18 with Contrastive Deep Supervision on ImageNet-1k, 8 GPUs x 32 images (x2
# views), the paper's 90-epoch schedule. Paper numbers: configs/cds/README.md.
_base_ = ['mmpretrain::_base_/models/resnet18.py',
          '../_base_/datasets/imagenet_bs32_2views.py',
          '../_base_/schedules/imagenet_bs256_90e.py', '../_base_/default_runtime.py',
          '../_base_/methods/cds.py']

model = _base_.method
