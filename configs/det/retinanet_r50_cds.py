# RetinaNet R50-FPN, 1x schedule on COCO (mmdet's recipe unchanged), with the ResNet-50
# backbone initialised from a CDS-pretrained classifier (_base_/cds_resnet50_pretrained.py)
# instead of torchvision's weights. Paper (Zhang et al., ECCV 2022): 37.3 AP vs 36.5 for
# the ImageNet baseline; see README.md.
#   python tools/train.py configs/det/retinanet_r50_cds.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
          './_base_/cds_resnet50_pretrained.py']

model = dict(backbone=_base_.pretrained_backbone)
