# CIFAR-10 as class folders of JPEGs (../shared/data/cifar10: train/<class>/*.jpg and
# test/<class>/*.jpg), read with mmpretrain's CustomDataset, 64 images per batch; works
# for any class-folder set with train/ and test/ sub-folders. Point elsewhere with the
# MMCDS_CIFAR10 environment variable or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
#
# Batches are stacked by default_collate, as mmpretrain's tools/train.py does, so that
# mmengine's own Runner.from_cfg builds the same loader as tools/train.py.
#
# Training view and normalisation: the reference CIFAR recipe's view 1 and mean/std
# (cifar_reference_views.py).
_base_ = './cifar_reference_views.py'

data_root = '{{$MMCDS_CIFAR10:../shared/data/cifar10}}'
dataset_type = 'CustomDataset'
data_preprocessor = dict(
    num_classes=10,
    **_base_.cifar_normalisation,
    # LoadImageFromFile reads BGR
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'), *_base_.view1_pipeline, dict(type='PackInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
class_folders = dict(type=dataset_type, data_root=data_root)
loader = dict(num_workers=2, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    # ExactResumeSampler: augmentation seeded by (seed, epoch, index), exact --resume
    loader, batch_size=64, sampler=dict(type='ExactResumeSampler', shuffle=True),
    dataset=dict(class_folders, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    loader, batch_size=128, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(class_folders, data_prefix='test', pipeline=test_pipeline))
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
