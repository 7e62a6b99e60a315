# Deeply-Supervised Nets (Lee et al., AISTATS 2015) as a delta on a classifier with a
# staged backbone: a cross-entropy classifier after stages 1-3 (CDS's SepConv path +
# pooling + Linear, the auxiliary capacity CDS's projection heads have), weight 0.3
# each. One view per image; apply it with `model = _base_.method`.
method = dict(
    type='DSNClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    exit_stages=(0, 1, 2),
    exit_type='sepconv',
    exit_loss_weight=0.3)
