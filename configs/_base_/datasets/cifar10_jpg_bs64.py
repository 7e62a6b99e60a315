# CIFAR-10 as class folders of JPEGs (../shared/data/cifar10: train/<class>/*.jpg and
# test/<class>/*.jpg), read with mmpretrain's CustomDataset, 64 images per batch; works
# for any class-folder set with train/ and test/ sub-folders. Point elsewhere with the
# MMCDS_CIFAR10 environment variable or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
#
# Batches are stacked by default_collate, as mmpretrain's tools/train.py does, so that
# mmengine's own Runner.from_cfg builds the same loader as tools/train.py.
#
# Training view: the reference CIFAR recipe's view 1 (contrastive-deep-supervision,
# CIFAR/train.py transform1): RandomCrop(32, padding 4, fill 128) + flip + Cutout (one
# 16x16 hole filled with 0, clipped at the borders as CIFAR/cutout.py does: mmcds's
# ClippedCutout; mmpretrain's Cutout keeps full-size holes at the top/left borders).
# Normalisation: the reference's mean/std (0.4914, 0.4822, 0.4465) /
# (0.2023, 0.1994, 0.2010), x255.
data_root = '{{$MMCDS_CIFAR10:../shared/data/cifar10}}'
dataset_type = 'CustomDataset'
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    # LoadImageFromFile reads BGR
    to_rgb=True)
view1_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=128),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ClippedCutout', length=16, n_holes=1, pad_val=0),
]
train_pipeline = [
    dict(type='LoadImageFromFile'), *view1_pipeline, dict(type='PackInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
class_folders = dict(type=dataset_type, data_root=data_root)
loader = dict(num_workers=2, collate_fn=dict(type='default_collate'))
train_dataloader = dict(
    loader, batch_size=64, sampler=dict(type='DefaultSampler', shuffle=True),
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
