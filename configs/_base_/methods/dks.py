# Deeply-supervised Knowledge Synergy (Sun et al., CVPR 2019) as a delta on a DSN model:
# pairwise KL between the softened predictions (T = 3) of all four classifiers (three
# auxiliary + main). Configs apply it with `model = _base_.dks_model`.
dks_model = dict(
    type='DKSClassifier',
    kl_temperature=3.0,
    kl_loss_weight=1.0,
    kl_pairs='all',
    detach_target=True)
