# Plain cross-entropy baseline: a narrow CIFAR ResNet-18 (base width 16) on the CIFAR-10
# JPEGs, small enough for CPU runs. Every other method on this data inherits from here.
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py', '../_base_/cifar10_jpg_bs64.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py'
]

model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128, topk=(1, 5)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(_delete_=True, type='CosineAnnealingLR', by_epoch=True,
                       T_max=30, eta_min=0)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)
