# CIFAR-10 as class folders of JPEGs (../shared/data/cifar10: train/<class>/*.jpg and
# test/<class>/*.jpg), read with mmpretrain's CustomDataset. Point elsewhere with the
# MMCDS_CIFAR10 environment variable or
# --cfg-options train_dataloader.dataset.data_root=... val_dataloader.dataset.data_root=...
# Works for any ImageNet-style class-folder set with train/ and test/ sub-folders.
custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)
data_root = '{{$MMCDS_CIFAR10:../shared/data/cifar10}}'
dataset_type = 'CustomDataset'
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    # LoadImageFromFile reads BGR
    to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
)
# Top-1/top-5 and calibration (ECE, 15 bins, lower is better) for every method.
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
