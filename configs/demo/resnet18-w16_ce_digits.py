# Demo (make demo): plain cross-entropy on scikit-learn's handwritten digits, written by
# tools/demo.py as class folders of 32x32 PNGs under work_dirs/demo/data/digits_seed0.
# mmpretrain's ResNet (7x7 stem, like mmdet's) so the backbone transfers to Faster R-CNN.
_base_ = '../ce/resnet18-w16_1xb64_cifar10-jpg.py'

data_root = 'work_dirs/demo/data/digits_seed0'
model = dict(
    backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
    head=dict(topk=(1, )))
data_preprocessor = dict(mean=[78.0, 78.0, 78.0], std=[96.0, 96.0, 96.0])
# Digits are not mirror-symmetric: no flips (nor Cutout, which can erase a stroke that
# tells two digits apart). Resize first so any class-folder set works.
view1_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomCrop', crop_size=32, padding=3),
]
train_pipeline = [dict(type='LoadImageFromFile'), *view1_pipeline, dict(type='PackInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
# drop_last: 1,347 digits leave a last batch of 3, too few for BN statistics and SupCon
train_dataloader = dict(
    drop_last=True, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='Accuracy', topk=(1, ))]
test_evaluator = val_evaluator
param_scheduler = dict(T_max=12)
train_cfg = dict(max_epochs=12, val_interval=12)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=12, max_keep_ckpts=1))
