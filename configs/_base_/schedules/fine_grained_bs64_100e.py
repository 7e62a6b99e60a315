# The fine-tuning schedule of the fine-grained configs: mmpretrain's CUB recipe
# (mmpretrain::_base_/schedules/cub_bs64.py, used by its resnet50_8xb8_cub.py): SGD lr
# 0.01 with Nesterov momentum 0.9 and weight decay 5e-4 for 64 images (8 GPUs x 8),
# 5 epochs of linear warm-up, then cosine to 0 at epoch 100; validation every epoch.
# The paper (Table 6: ResNet-50 fine-tuned from ImageNet weights) does not give its
# fine-tuning recipe, so every method here uses this one.
_base_ = 'mmpretrain::_base_/schedules/cub_bs64.py'
