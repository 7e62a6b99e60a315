# Deeply-supervised Knowledge Synergy (Sun et al., CVPR 2019): DSN (dsn.py) plus
# pairwise KL between the softened predictions (T = 3) of all four classifiers (three
# exits + main), targets detached. Apply it with `model = _base_.method`.
_base_ = './dsn.py'

method = dict(
    type='DKSClassifier',
    kl_temperature=3.0,
    kl_loss_weight=1.0,
    kl_pairs='all',
    detach_target=True)
