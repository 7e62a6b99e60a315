# The detector of retinanet_r50_cds.py shrunk for CPU runs, tests and demos: a narrow
# ResNet-18 (stem and base width 16), a 32-channel FPN and head, on coco128 at 320 px
# (_base_/coco128_detection.py), 12 short epochs. Backbone from a CDS checkpoint:
#   python tools/train.py configs/det/retinanet_r18-w16_fpn_coco128.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# or from scratch with --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py', './_base_/coco128_detection.py',
    './_base_/coco128_12e.py'
]

model = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        # no default: PretrainedCheckHook asks for one at start
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=2))

optim_wrapper = dict(optimizer=dict(lr=0.005))
