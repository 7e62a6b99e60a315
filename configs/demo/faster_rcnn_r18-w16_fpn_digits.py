# Demo (make demo): the small Faster R-CNN of configs/det/faster_rcnn_r18-w16_fpn_coco128.py
# on digit canvases that tools/demo.py writes in COCO format. Its backbone starts from
# a backbone-only checkpoint that tools/demo.py converts from a demo classifier (it runs
# this config twice: from the CE and from the CDS backbone; keys without the
# 'backbone.' prefix, hence prefix=None).
_base_ = '../det/faster_rcnn_r18-w16_fpn_coco128.py'

data_root = 'work_dirs/demo/data/digits_coco_seed0/'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
model = dict(
    data_preprocessor=dict(mean=[78.0, 78.0, 78.0], std=[96.0, 96.0, 96.0]),
    backbone=dict(
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(checkpoint='work_dirs/demo/cds_backbone.pth', prefix=None)),
    # digits are 20-44 px: anchors of 24 px at stride 4
    rpn_head=dict(anchor_generator=dict(scales=[6])),
    roi_head=dict(bbox_head=dict(num_classes=10)),
    # a few digits per 128 px image: far fewer proposals and RoI samples than COCO's
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=200),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100)))

# No flips: a mirrored digit is another glyph.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
digits_dataset = dict(data_root=data_root, metainfo=dict(classes=classes))
train_dataloader = dict(batch_size=4, dataset=dict(digits_dataset, pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(digits_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=6, val_interval=6)
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
]
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=6, max_keep_ckpts=1))
randomness = dict(seed=0)
