# SelfCon + cross-entropy on CIFAR-100: the CE config of the reference CIFAR recipe
# (configs/ce/resnet18_1xb128_cifar100.py) plus _base_/methods/selfcon.py, with the
# authors' CIFAR sub-network: selfcon_size='fc' (scripts/selfcon_represent.sh).
_base_ = ['../ce/resnet18_1xb128_cifar100.py', '../_base_/methods/selfcon.py']

model = dict(_base_.method, exit_type='fc')
