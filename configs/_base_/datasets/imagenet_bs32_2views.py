# ImageNet (imagenet_bs32.py) with the two views of Contrastive Deep Supervision:
# view 1 is the one-view recipe (the only view cross-entropy sees), view 2 SimCLR's
# crop (scale 0.2-1) + flip + colour distortion, seen only by the contrastive terms.
_base_ = ['./imagenet_bs32.py', './contrastive_color.py']

view1_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
view2_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    *_base_.color_distortion,
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[view1_pipeline, view2_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
