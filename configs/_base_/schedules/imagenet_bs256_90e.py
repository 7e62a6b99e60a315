# The paper's ImageNet schedule on mmpretrain's SGD recipe (lr 0.1 per 256 images,
# momentum 0.9, weight decay 1e-4): 90 epochs, lr x0.1 at epochs 30 and 60
# (contrastive-deep-supervision, ImageNet/Contrastive_Deep_Supervision/main.py).
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256.py'

param_scheduler = dict(milestones=[30, 60])
train_cfg = dict(max_epochs=90)
