# Deeply-supervised Knowledge Synergy (Sun et al., CVPR 2019) as its authors define it:
# DSN (dsn.py) with cross-entropy weight 1 on every classifier, plus pairwise KL between
# the predictions (T = 1) of all four classifiers (three exits + main), summed over the
# ordered pairs, targets detached. The auxiliary branches are DSN's SepConv exits (the
# capacity CDS's projection heads have), not DKS's own branch design. Our earlier
# variant (T = 3 with the T^2 factor, mean over pairs, exit weight 0.3) is
#   --cfg-options model.kl_temperature=3 model.kl_reduction=mean model.exit_loss_weight=0.3
# Apply it with `model = _base_.method`.
_base_ = './dsn.py'

method = dict(
    type='DKSClassifier',
    exit_loss_weight=1.0,
    kl_temperature=1.0,
    kl_loss_weight=1.0,
    kl_pairs='all',
    kl_reduction='sum',
    detach_target=True)
