# Contrastive Deep Supervision (Zhang et al., ECCV 2022) as a delta on a classifier with
# a staged backbone: a projection head on every stage (SepConv blocks down to the last
# stage's size, pooling, L2 norm) and lambda * SupCon on each; CE on view 1 only. Pair
# it with a *_2views data base and apply it with `model = _base_.method`.
# Supervised stages: every backbone output, the last one's pooled feature included, as
# the reference code does (CIFAR/resnet.py auxiliary1..4); model.cds_stages=(0, 1, 2)
# gives the paper's equation, a sum over the K - 1 intermediate stages.
method = dict(
    type='CDSClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    cds_neck=dict(type='CDSNeck'),  # in_channels: probed from the backbone
    # lambda 0.1 per stage, temperature 0.07, SupCon (supervised=False: NT-Xent)
    cds_loss=dict(type='ContrastiveDSLoss', temperature=0.07, loss_weight=0.1,
                  supervised=True))
