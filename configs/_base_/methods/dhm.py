# Dynamic Hierarchical Mimicking (Li & Chen, CVPR 2020) as its authors build it
# (d-li14/DHM, models/imagenet/resnet.py and imagenet.py --mimic): two branches, each a
# new sub-network with its own classifier: after layer2, copies of layer3 and layer4
# with fewer blocks (ResNet-18: 1 and 2; ResNet-34/50: 3 and 2); after layer3, a copy
# of layer4 twice as wide (ResNet-18: 2 blocks; ResNet-34/50: 3). Cross-entropy weight
# 1 on all three classifiers and KL at T = 1 (--temperature 1) with weight 1 (--alpha 1)
# summed over all six ordered pairs, targets detached: DKS's loss as dks.py sets it, on
# other branches. Apply it with `model = _base_.method`.
#
# `dhm_style` is our earlier approximation on DKS (dks.py): full-depth, same-width
# copies of the later stages after stages 1-3 (exit_type='resnet'), KL only between
# the main head and each exit. The CIFAR configs keep it (`model = _base_.dhm_style`):
# the authors define branches for their CIFAR ResNet-32/110 and ImageNet ResNets, not
# for the CIFAR ResNet-18 the CDS paper trains. From `method`, the approximation is
#   --cfg-options model.exit_type=resnet model.kl_pairs=main
# Cost of both: configs/dhm/README.md.
_base_ = './dks.py'

method = dict(_base_.method, type='DHMClassifier', exit_type='dhm', exit_stages=None,
              width_factor=2)
dhm_style = dict(_base_.method, exit_type='resnet', kl_pairs='main')
