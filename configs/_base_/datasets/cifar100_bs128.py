# CIFAR-100 with the reference CIFAR recipe's data (contrastive-deep-supervision,
# CIFAR/train.py): mmpretrain's CIFAR100 dataset on its on-disk pickle format,
#   data/cifar100/cifar-100-python/{train,test,meta}
# (the python version of the official archive, cifar-100-python.tar.gz, unpacked), 128
# images per batch (BATCH_SIZE = 128), 4 loader workers (num_workers=4), view 1 and the
# normalisation of cifar_reference_views.py, plain test images (transform_test).
# Elsewhere: MMCDS_CIFAR100=/path (the folder holding cifar-100-python/) or
# --cfg-options train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
# No download (download=False): a missing set stops with mmpretrain's "Cannot find
# CIFAR100 dataset in <data_root>".
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py', './cifar_reference_views.py']

data_root = '{{$MMCDS_CIFAR100:data/cifar100}}'
# The pickles hold RGB images.
data_preprocessor = dict(num_classes=100, **_base_.cifar_normalisation, to_rgb=False)
train_pipeline = [*_base_.view1_pipeline, dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]
loader = dict(batch_size=128, num_workers=4, collate_fn=dict(type='default_collate'))
# ExactResumeSampler: augmentation seeded by (seed, epoch, index), exact --resume
train_dataloader = dict(
    loader, sampler=dict(type='ExactResumeSampler', shuffle=True),
    dataset=dict(data_root=data_root, download=False, pipeline=train_pipeline))
val_dataloader = dict(
    loader,
    dataset=dict(data_root=data_root, download=False, pipeline=test_pipeline))
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
