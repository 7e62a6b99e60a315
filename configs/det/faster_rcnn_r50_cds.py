# Faster R-CNN R50-FPN, 1x schedule on COCO (mmdet's recipe unchanged), with the ResNet-50
# backbone initialised from a CDS-pretrained classifier instead of torchvision's weights.
# Paper (Zhang et al., ECCV 2022):
# 38.3 AP vs 37.4 for the ImageNet baseline; see README.md.
#
# The checkpoint is read straight from what tools/train.py writes for
# configs/cds/resnet50_8xb32_in1k.py (its 'backbone.*' tensors; no conversion needed):
#   python tools/train.py configs/det/faster_rcnn_r50_cds.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# PretrainedCheckHook stops the run at start, naming model.backbone.init_cfg.checkpoint,
# if the file is missing or is not a ResNet-50 with the 7x7 stem mmdet's ResNet has.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmcds', 'mmcds.det'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            # the last checkpoint of tools/train.py configs/cds/resnet50_8xb32_in1k.py
            checkpoint='work_dirs/resnet50_8xb32_in1k/epoch_90.pth',
            prefix='backbone.')))

custom_hooks = [
    dict(type='PretrainedCheckHook',
         hint='Pretrain the backbone first: python tools/train.py '
         'configs/cds/resnet50_8xb32_in1k.py (writes '
         'work_dirs/resnet50_8xb32_in1k/epoch_90.pth).')
]
