# SelfCon + cross-entropy on the CIFAR-10 JPEGs: the CE config (narrow
# CIFAR ResNet-18, one view, same schedule and seed) plus _base_/methods/selfcon.py,
# with the authors' CIFAR sub-network: selfcon_size='fc' (scripts/selfcon_represent.sh).
_base_ = ['../ce/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/selfcon.py']

model = dict(_base_.method, exit_type='fc')
