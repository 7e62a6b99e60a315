# The detector of faster_rcnn_r50_cds.py shrunk for CPU runs, tests and demos: the narrow
# ResNet-18 and FPN of _base_/resnet18-w16_fpn.py, 32-channel heads, coco128 at 320 px
# (_base_/coco128_detection.py), 12 short epochs. Backbone from a CDS checkpoint:
#   python tools/train.py configs/det/faster_rcnn_r18-w16_fpn_coco128.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# or from scratch with --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/coco128_detection.py',
    './_base_/coco128_12e.py', './_base_/resnet18-w16_fpn.py'
]

model = dict(
    backbone=_base_.narrow_backbone,
    neck=_base_.narrow_fpn,
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=128)),
    # fewer proposals than the 1333x800 recipe: 320 px images have ~6x fewer anchors
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

optim_wrapper = dict(optimizer=dict(lr=0.01))
