# SelfCon + cross-entropy (_base_/methods/selfcon.py) on ImageNet-1k: mmpretrain's
# ResNet-18 recipe (8 GPUs x 32 images) on the CDS schedule, for a fair comparison.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/cds_in1k.py',
          '../_base_/methods/selfcon.py']

model = _base_.selfcon_model
param_scheduler = _base_.cds_param_scheduler
train_cfg = _base_.cds_train_cfg
val_evaluator = _base_.cds_evaluator
test_evaluator = val_evaluator
