# The CIFAR-10 JPEGs (cifar10_jpg_bs64.py) with the reference CIFAR recipe's two views
# (contrastive-deep-supervision, CIFAR/train.py): view 1 as in the one-view base
# (the only view cross-entropy sees); view 2 RandomCrop(32, padding 4) + flip +
# colour distortion, seen only by the contrastive terms.
_base_ = ['./cifar10_jpg_bs64.py', './contrastive_color.py']

view2_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    *_base_.color_distortion,
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[_base_.view1_pipeline, view2_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
