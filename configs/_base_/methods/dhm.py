# DHM-style deep supervision (Li et al., "Dynamic Hierarchical Mimicking", CVPR 2020) on
# DKS (dks.py, whose loss weights it keeps): the branches are fresh copies of the later
# residual stages (not SepConv heads) and only the main head <-> branch pairs are
# matched. An approximation in the same design (no DHM-specific branch-growing rules).
# Apply it with `model = _base_.method`.
_base_ = './dks.py'

method = dict(exit_type='resnet', kl_pairs='main')
