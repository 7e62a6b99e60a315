# The detector of retinanet_r50_cds.py shrunk for CPU runs, tests and demos: a narrow
# ResNet-18 (stem and base width 16), a 32-channel FPN and head, on coco128 at 320 px
# (_base_/coco128_detection.py), 12 short epochs. Backbone from a CDS checkpoint:
#   python tools/train.py configs/det/retinanet_r18-w16_fpn_coco128.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# or from scratch with --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py', './_base_/coco128_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py'
]

custom_imports = dict(imports=['mmcds', 'mmcds.det'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        # no default: PretrainedCheckHook asks for one at start
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=2))

custom_hooks = [dict(type='PretrainedCheckHook')]

# 12 epochs of ~63 iterations (batch 2): the 1x shape with a shorter warm-up.
train_cfg = dict(max_epochs=12, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
         gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.005), clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(base_batch_size=2)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=4, max_keep_ckpts=2))
log_processor = dict(window_size=10)
