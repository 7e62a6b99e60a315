# SelfCon (Bae et al., AAAI 2023) jointly with cross-entropy on the narrow CIFAR
# ResNet-18 of configs/ce/resnet18-w16_1xb64_cifar10-jpg.py, same (single-view) data
# pipeline, schedule and seed. One exit after layer2 (selfcon_pos=[False, True, False],
# the authors' ResNet default) made of fresh copies of layer3 and layer4 (their
# selfcon_size='same'); SupCon over [z_exit, z_backbone] with temperature 0.1 (their
# SelfCon scripts), weight 0.8 and an exit classifier with weight 1.0 (their one-stage
# method 'selfcon'). Inference: the backbone's head (ensemble_exits=True averages the
# softmax of the main head and the exit classifier).
_base_ = '../ce/resnet18-w16_1xb64_cifar10-jpg.py'

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
