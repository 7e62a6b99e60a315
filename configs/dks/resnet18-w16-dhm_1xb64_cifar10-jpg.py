# DHM-style variant (Li et al., "Dynamic Hierarchical Mimicking", CVPR 2020) of the DKS
# config: the branches are fresh copies of the later residual stages (not SepConv
# heads) and only the main head <-> branch pairs are matched. An approximation in the
# same design (no DHM-specific branch-growing rules); not in the default comparison.
_base_ = './resnet18-w16_1xb64_cifar10-jpg.py'

model = dict(aux_exit='resnet', kl_pairs='main')
