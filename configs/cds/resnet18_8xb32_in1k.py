# ResNet-18 with Contrastive Deep Supervision on ImageNet-1k, 8 GPUs x 32 images (x2 views).
# Paper (Zhang et al., ECCV 2022): see configs/cds/README.md.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/cds_in1k.py']

model = dict(
    type='CDSClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    cds_neck=dict(type='CDSNeck'),  # in_channels: probed from the backbone
    cds_loss=_base_.cds_loss)
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
train_dataloader = dict(dataset=dict(pipeline=_base_.cds_train_pipeline))
param_scheduler = _base_.cds_param_scheduler
train_cfg = _base_.cds_train_cfg
val_evaluator = _base_.cds_evaluator
test_evaluator = val_evaluator
