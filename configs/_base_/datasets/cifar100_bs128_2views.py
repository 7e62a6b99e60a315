# CIFAR-100 (cifar100_bs128.py) with the reference CIFAR recipe's two views
# (contrastive-deep-supervision, CIFAR/train.py transform1/transform2): view 1 as in the
# one-view base (the only view cross-entropy sees); view 2 RandomCrop(32, padding 4) +
# flip + colour distortion, seen only by the contrastive terms.
_base_ = ['./cifar100_bs128.py', './contrastive_color.py']

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=[1, 1], transforms=[
        _base_.view1_pipeline,
        [dict(type='RandomCrop', crop_size=32, padding=4),
         dict(type='RandomFlip', prob=0.5, direction='horizontal'),
         *_base_.color_distortion]]),
    dict(type='PackInputs'),
]))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
