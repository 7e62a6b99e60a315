# What the ResNet-50 detectors (faster_rcnn_r50_cds.py, retinanet_r50_cds.py) change in
# mmdet's recipe: the backbone starts from a CDS classifier checkpoint, read as
# tools/train.py writes it for configs/cds/resnet50_8xb32_in1k.py ('backbone.*' tensors;
# no conversion needed), and PretrainedCheckHook stops the run at start, naming
# model.backbone.init_cfg.checkpoint, if the file is missing or is not a ResNet-50 with
# mmdet's 7x7 stem. Detectors apply it with
# `model = dict(backbone=_base_.pretrained_backbone)`.
custom_imports = dict(imports=['mmcds', 'mmcds.det'], allow_failed_imports=False)

pretrained_backbone = dict(
    init_cfg=dict(
        type='Pretrained',
        # the last checkpoint of tools/train.py configs/cds/resnet50_8xb32_in1k.py
        checkpoint='work_dirs/resnet50_8xb32_in1k/epoch_90.pth',
        prefix='backbone.'))
custom_hooks = [
    dict(type='PretrainedCheckHook',
         hint='Pretrain the backbone first: python tools/train.py '
         'configs/cds/resnet50_8xb32_in1k.py (writes '
         'work_dirs/resnet50_8xb32_in1k/epoch_90.pth).'),
    # the reliability hooks of classifiers but exact resume (mmdet's
    # AspectRatioBatchSampler cannot skip part of an epoch)
    dict(type='NonFiniteLossHook'), dict(type='ClassCheckHook'),
    dict(type='DataErrorHook')
]
