# The reference CIFAR schedule (contrastive-deep-supervision, CIFAR/train.py): SGD lr 0.1
# (LR = 0.1) for 128 images, momentum 0.9, weight decay 5e-4, 300 epochs (--epoch 300),
# lr /10 when epochs 90, 180 and 280 start ("if epoch in [90, 180, 280]"); validation
# every epoch, as the reference tests after each one.
_base_ = 'mmpretrain::_base_/schedules/cifar10_bs128.py'

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(milestones=[90, 180, 280], gamma=0.1)
train_cfg = dict(max_epochs=300, val_interval=1)
