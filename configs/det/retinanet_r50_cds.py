# RetinaNet R50-FPN, 1x schedule on COCO (mmdet's recipe unchanged), with the ResNet-50
# backbone initialised from a CDS-pretrained classifier instead of torchvision's weights.
# Paper (Zhang et al., ECCV 2022):
# 37.3 AP vs 36.5 for the ImageNet baseline; see README.md.
#
#   python tools/train.py configs/det/retinanet_r50_cds.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
# PATH is a checkpoint of configs/cds/resnet50_8xb32_in1k.py, read as it is.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

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
