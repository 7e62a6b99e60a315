# Deeply-supervised Knowledge Synergy on ImageNet-1k: the DSN config plus pairwise KL
# (T = 3) between all four classifiers.
_base_ = '../dsn/resnet18_8xb32_in1k.py'

model = dict(
    type='DKSClassifier',
    kl_temperature=3.0,
    kl_loss_weight=1.0,
    kl_pairs='all',
    detach_target=True)
