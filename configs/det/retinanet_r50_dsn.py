# RetinaNet R50-FPN 1x on COCO (retinanet_r50_cds.py, mmdet's recipe) with the backbone of a
# Deeply-Supervised Nets classifier (configs/dsn/resnet50_8xb32_in1k.py) instead of a CDS one.
# Paper AP: 36.3 (README.md). Checkpoint path and how to make it:
# _base_/baseline_checkpoints.py; another file with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ['./retinanet_r50_cds.py', './_base_/baseline_checkpoints.py']

model = dict(backbone=dict(
    init_cfg=dict(checkpoint=_base_.baseline_checkpoints.dsn.path)))
# The CDS detector's hooks, with this checkpoint's hint.
custom_hooks = [dict(_base_.custom_hooks[0], hint=_base_.baseline_checkpoints.dsn.hint),
                *_base_.custom_hooks[1:]]
