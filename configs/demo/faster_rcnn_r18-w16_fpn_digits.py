# Demo (make demo): Faster R-CNN whose backbone is the demo's tiny ResNet-18 (width 16),
# initialised from the CDS classifier (tools/demo.py converts its checkpoint to
# work_dirs/demo/cds_backbone.pth), trained on digit canvases written in COCO format.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)

data_root = 'work_dirs/demo/data/digits_coco/'
classes = ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
model = dict(
    data_preprocessor=dict(mean=[78.0, 78.0, 78.0], std=[96.0, 96.0, 96.0]),
    backbone=dict(
        depth=18, stem_channels=16, base_channels=16, frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo/cds_backbone.pth')),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    # digits are 20-44 px: anchors of 24 px at stride 4
    rpn_head=dict(in_channels=64, feat_channels=64, anchor_generator=dict(scales=[6])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=10)),
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
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=6, val_interval=6)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
]
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=6, max_keep_ckpts=1))
randomness = dict(seed=0)
