# SelfCon (Bae et al., AAAI 2023) jointly with cross-entropy: the authors' one-stage
# method 'selfcon' of main_ce.py (raymin0223/self-contrastive-learning), as a delta on
# a classifier with a staged backbone. One view; one exit after layer2 (their
# selfcon_pos=[False, True, False]) made of fresh copies of layer3 and layer4
# (selfcon_size='same', their ImageNet script; CIFAR configs set exit_type='fc', their
# CIFAR script's size); a Linear projector per exit and a frozen random one on the
# backbone (networks/resnet_big.py CEResNet: feat_fc, f_fc); their ConLoss (SupCon
# scaled by temperature / 0.07) over [z_exit, z_backbone], weight 0.8, and an exit
# classifier with weight 1.0 (main_ce.py: alpha 1.0, gamma 0.8).
# Differs: temperature 0.1, from their SelfCon scripts; main_ce.py passes --temperature,
# whose default 3.0 is the KD temperature the argument shares.
# Inference: the main head (ensemble_exits=True averages the softmax of the main head
# and the exit classifier). Apply it with `model = _base_.method`.
method = dict(
    type='SelfConClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    exit_stages=(1, ),
    exit_type='resnet',
    feat_dim=128,
    projector='linear',
    freeze_backbone_projector=True,
    selfcon_loss=dict(type='ContrastiveDSLoss', temperature=0.1, base_temperature=0.07,
                      loss_weight=0.8, supervised=True),
    exit_loss_weight=1.0,
    ensemble_exits=False)
