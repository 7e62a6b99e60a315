# The data recipe of the fine-grained configs (CUB, Stanford Cars, Flowers-102, Stanford
# Dogs, FGVC Aircraft): imagenet_bs32.py (loaders, default_collate, ImageNet mean/std,
# top-1/top-5 + ECE) with mmpretrain's CUB fine-tuning views
# (mmpretrain::_base_/datasets/cub_bs8_448.py: resize the short side to 600, random crop
# 448 + flip for training, centre crop 448 for testing) and 8 images per GPU. Each data
# set's base sets its dataset and num_classes.
# CDS configs train on two_view_pipeline: view 1 is the recipe's, view 2 (ours; the
# paper gives none for these sets) the ImageNet view 2 at 448 px: a SimCLR crop (scale
# 0.2-1) + flip + colour distortion.
_base_ = ['./imagenet_bs32.py', './contrastive_color.py']

flip = dict(type='RandomFlip', prob=0.5, direction='horizontal')
load, pack = dict(type='LoadImageFromFile'), dict(type='PackInputs')
view1_pipeline = [dict(type='Resize', scale=600), dict(type='RandomCrop', crop_size=448),
                  flip]
view2_pipeline = [dict(type='RandomResizedCrop', scale=448, crop_ratio_range=(0.2, 1.0)),
                  flip, *_base_.color_distortion]
train_pipeline = [load, *view1_pipeline, pack]
test_pipeline = [load, dict(type='Resize', scale=600),
                 dict(type='CenterCrop', crop_size=448), pack]
two_view_pipeline = [
    load, dict(type='MultiView', num_views=[1, 1],
               transforms=[view1_pipeline, view2_pipeline]), pack]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
