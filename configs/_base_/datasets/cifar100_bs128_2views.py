# CIFAR-100 (cifar100_bs128.py) with the reference CIFAR recipe's two views
# (cifar_reference_views.py; CIFAR/train.py TwoCropTransform(transform1, transform2)):
# cross-entropy on view 1, the contrastive terms on both. The pickles hold RGB images,
# so view 2's grayscale takes RGB weights (the shared colour pipeline assumes BGR, as
# LoadImageFromFile reads); mmcv's saturation/contrast jitter still blends with a BGR
# gray, i.e. with R and B weights swapped on these images (hue jitter is symmetric).
_base_ = './cifar100_bs128.py'

view2_pipeline = [
    *_base_.view2_pipeline[:-1],
    dict(_base_.view2_pipeline[-1], channel_weights=(0.2989, 0.587, 0.114)),
]
train_pipeline = [
    dict(type='MultiView', num_views=[1, 1],
         transforms=[_base_.view1_pipeline, view2_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
