# SelfCon (Bae et al., AAAI 2023) jointly with cross-entropy, as a delta on a classifier
# with a staged backbone: one view; one exit after layer2 (the authors' ResNet default
# selfcon_pos=[False, True, False]) made of fresh copies of layer3 and layer4 (their
# selfcon_size='same'); SupCon over [z_exit, z_backbone] with temperature 0.1 (their
# SelfCon scripts), weight 0.8, and an exit classifier with weight 1.0 (their one-stage
# method 'selfcon'). Inference: the main head (ensemble_exits=True averages the softmax
# of the main head and the exit classifier). Apply it with `model = _base_.method`.
method = dict(
    type='SelfConClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    exit_stages=(1, ),
    exit_type='resnet',
    feat_dim=128,
    selfcon_loss=dict(type='ContrastiveDSLoss', temperature=0.1, loss_weight=0.8,
                      supervised=True),
    exit_loss_weight=1.0,
    ensemble_exits=False)
