# mmpretrain's ResNet-50 initialised from an ImageNet-1k classifier, for fine-tuning:
# by default mmpretrain's own checkpoint (configs/resnet/resnet50_8xb32_in1k.py, 76.55
# top-1); a CDS one with --cfg-options
# model.backbone.init_cfg.checkpoint=work_dirs/resnet50_8xb32_in1k/epoch_90.pth
# (tools/train.py configs/cds/resnet50_8xb32_in1k.py writes it; its backbone.* tensors
# are read, the projection heads ignored).
_base_ = 'mmpretrain::_base_/models/resnet50.py'

model = dict(backbone=dict(init_cfg=dict(
    type='Pretrained',
    checkpoint='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet50_8xb32_in1k_20210831-ea4938fc.pth',
    prefix='backbone')))
