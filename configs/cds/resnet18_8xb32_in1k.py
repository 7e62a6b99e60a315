# ResNet-18 with Contrastive Deep Supervision on ImageNet-1k, 8 GPUs x 32 images (x2
# views), the paper's 90-epoch schedule; mmpretrain's ResNet-18 (with the stem's
# max-pool), residual branches initialised as the authors do
# (_base_/models/resnet18_in1k.py: zero_init_residual=False). The authors' network
# without the max-pool: resnet18-nomaxpool_8xb32_in1k.py. Paper numbers and what they
# may rest on: configs/cds/README.md.
_base_ = ['../_base_/models/resnet18_in1k.py',
          '../_base_/datasets/imagenet_bs32_2views.py',
          '../_base_/schedules/imagenet_bs256_90e.py', '../_base_/default_runtime.py',
          '../_base_/methods/cds.py']

model = _base_.method
