# CIFAR-100 read with mmpretrain's CIFAR100 data set (the python version,
# data/cifar100/cifar-100-python/{train,test,meta}; mmpretrain downloads it there when
# it is missing), 128 images per batch as in the reference CIFAR recipe
# (contrastive-deep-supervision, CIFAR/train.py and CIFAR/distill.py: BATCH_SIZE = 128).
# Move it with --cfg-options train_dataloader.dataset.data_root=R
# val_dataloader.dataset.data_root=R.
#
# Training view: the recipe's view 1 (transform1): RandomCrop(32, padding 4, fill 128)
# + flip + Cutout (one 16x16 hole filled with 0). Normalisation: the recipe's
# Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) x255, which it uses
# for CIFAR-100 too; the data set yields RGB arrays, so no channel swap.
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'

data_preprocessor = dict(
    num_classes=100,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)
view1_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=128),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=0, prob=1.0),
]
train_pipeline = [*view1_pipeline, dict(type='PackInputs')]
# default_collate stacks the batch, as mmpretrain's tools/train.py does.
train_dataloader = dict(batch_size=128, collate_fn=dict(type='default_collate'),
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, collate_fn=dict(type='default_collate'))
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator
