# The CIFAR-10 JPEGs (cifar10_jpg_bs64.py) with the reference CIFAR recipe's two views
# (cifar_reference_views.py): view 1 as in the one-view base (the only view
# cross-entropy sees), view 2 seen only by the contrastive terms.
_base_ = './cifar10_jpg_bs64.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[_base_.view1_pipeline, _base_.view2_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
