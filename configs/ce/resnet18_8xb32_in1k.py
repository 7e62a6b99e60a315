# The cross-entropy baseline on ImageNet-1k: mmpretrain's ResNet-18 (with the stem's
# max-pool) on the paper's 90-epoch schedule (lr x0.1 at 30 and 60), one view, 8 GPUs x
# 32 images; residual branches initialised as the CDS authors do
# (_base_/models/resnet18_in1k.py: zero_init_residual=False). The authors' own network
# without the max-pool: resnet18-nomaxpool_8xb32_in1k.py (configs/cds/README.md).
_base_ = ['../_base_/models/resnet18_in1k.py',
          '../_base_/datasets/imagenet_bs32.py',
          '../_base_/schedules/imagenet_bs256_90e.py', '../_base_/default_runtime.py']
