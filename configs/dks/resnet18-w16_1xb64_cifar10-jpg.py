# Deeply-supervised Knowledge Synergy: the DSN config plus pairwise KL between the
# softened predictions (T = 3) of all four classifiers (three auxiliary + main).
_base_ = '../dsn/resnet18-w16_1xb64_cifar10-jpg.py'

model = dict(
    type='DKSClassifier',
    kl_temperature=3.0,
    kl_loss_weight=1.0,
    kl_pairs='all',
    detach_target=True)
