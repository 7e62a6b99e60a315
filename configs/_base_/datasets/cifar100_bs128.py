# CIFAR-100 read with mmpretrain's CIFAR100 data set (the python version,
# data/cifar100/cifar-100-python/{train,test,meta}; mmpretrain downloads it there when
# it is missing), 128 images per batch as in the reference CIFAR recipe
# (contrastive-deep-supervision, CIFAR/train.py and CIFAR/distill.py: BATCH_SIZE = 128).
# Move it with --cfg-options train_dataloader.dataset.data_root=R
# val_dataloader.dataset.data_root=R.
#
# Training view and normalisation: the recipe's view 1 and mean/std (cifar_views.py);
# the data set yields RGB arrays, so no channel swap.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py', './cifar_views.py']

data_preprocessor = dict(_base_.cifar_normalization, num_classes=100, to_rgb=False)
train_pipeline = [*_base_.view1_pipeline, dict(type='PackInputs')]
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
