# coco128 in COCO format (128 train2017 and 128 val2017 images, the 80 original COCO
# category ids) at a small scale, for CPU runs, tests and demos: train2017/ trains,
# val2017/ is evaluated with the COCO bbox metric.
#
# The root defaults to ../shared/data/coco128 (relative to the repository root, where
# tools/ are run from). Point elsewhere with the MMCDS_COCO128 environment variable, or
# with --cfg-options for all five fields that hold it:
#   train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
#   test_dataloader.dataset.data_root=R
#   val_evaluator.ann_file=R/annotations/instances_val2017.json
#   test_evaluator.ann_file=R/annotations/instances_val2017.json
dataset_type = 'CocoDataset'
data_root = '{{$MMCDS_COCO128:../shared/data/coco128}}'
# (width, height) bound; images keep their aspect ratio (640x480 -> 320x240).
img_scale = (320, 320)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + '/annotations/instances_val2017.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
