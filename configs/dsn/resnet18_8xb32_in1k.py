# Deeply-Supervised Nets on ImageNet-1k: mmpretrain's ResNet-18 recipe (8 GPUs x 32
# images) on the CDS schedule, plus a SepConv auxiliary classifier after stages 1-3,
# weight 0.3.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/cds_in1k.py']

model = dict(
    type='DSNClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    aux_stages=(0, 1, 2),
    aux_exit='sepconv',
    aux_loss_weight=0.3)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_evaluator = val_evaluator
# Trained like the CDS configs (the paper's 90 epochs, steps at 30/60) for a fair comparison.
param_scheduler = _base_.cds_param_scheduler
train_cfg = _base_.cds_train_cfg
