# The cross-entropy baseline on ImageNet-1k, trained like the CDS configs: mmpretrain's
# ResNet-18 recipe on the paper's schedule (90 epochs, lr x0.1 at 30 and 60), one view.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/cds_in1k.py']

param_scheduler = _base_.cds_param_scheduler
train_cfg = _base_.cds_train_cfg
val_evaluator = _base_.cds_evaluator
test_evaluator = val_evaluator
