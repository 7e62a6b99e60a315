# Deeply-Supervised Nets (Lee et al., AISTATS 2015) as a delta on any ResNet classifier:
# a cross-entropy classifier after stages 1-3 (CDS's SepConv path + pooling + Linear,
# the auxiliary capacity CDS's projection heads have), weight 0.3 each. Configs apply it
# with `model = _base_.dsn_model`, so CIFAR and ImageNet runs share one definition.
dsn_model = dict(
    type='DSNClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    aux_stages=(0, 1, 2),
    aux_exit='sepconv',
    aux_loss_weight=0.3)
