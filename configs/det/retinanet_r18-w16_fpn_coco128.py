# RetinaNet twin of faster_rcnn_r18-w16_fpn_coco128.py (same narrow backbone and FPN,
# coco128 data and 12-epoch schedule) with a 32-channel head of 2 stacked convs: the
# small version of retinanet_r50_cds.py for CPU runs and tests.
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', './_base_/resnet18-w16_fpn.py',
          './_base_/coco128_detection.py', './_base_/coco128_12e.py']

model = dict(backbone=_base_.narrow_backbone, neck=_base_.narrow_fpn,
             bbox_head=dict(in_channels=32, feat_channels=32, stacked_convs=2))

optim_wrapper = dict(optimizer=dict(lr=0.005))
