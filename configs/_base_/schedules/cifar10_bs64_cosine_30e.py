# The short CPU schedule of the narrow CIFAR-10 runs (not the paper's 300-epoch
# recipe): SGD lr 0.05 for 64 images, momentum 0.9, weight decay 5e-4, cosine to 0 over
# 30 epochs; validation every 5 epochs.
_base_ = 'mmpretrain::_base_/schedules/cifar10_bs128.py'

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True,
                       T_max=30, eta_min=0)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
