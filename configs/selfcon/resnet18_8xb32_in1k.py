# SelfCon + cross-entropy on ImageNet-1k with mmpretrain's ResNet-18 recipe on the CDS
# schedule: one exit after layer2 with its own layer3/layer4 copies (the authors' ResNet
# setting), SupCon (temperature 0.1, weight 0.8) over [z_exit, z_backbone], exit
# classifier weight 1.0.
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py', '../_base_/cds_in1k.py']

model = dict(
    type='SelfConClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    selfcon_pos=[False, True, False],
    exit_type='resnet',
    feat_dim=128,
    selfcon_loss=dict(type='ContrastiveDSLoss', temperature=0.1, loss_weight=0.8,
                      supervised=True),
    exit_loss_weight=1.0,
    ensemble_exits=False)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_evaluator = val_evaluator
# Trained like the CDS configs (the paper's 90 epochs, steps at 30/60) for a fair comparison.
param_scheduler = _base_.cds_param_scheduler
train_cfg = _base_.cds_train_cfg
