# DHM-style deep supervision on CIFAR-100: the CE config of the reference CIFAR recipe
# (configs/ce/resnet18_1xb128_cifar100.py) plus the approximation `dhm_style` of
# _base_/methods/dhm.py (same-width copies of the later stages after stages 1-3, KL
# between the main head and each exit). The authors' two branches on this network
# (their rule for ImageNet ResNet-18 applied to the CIFAR one; configs/dhm/README.md):
#   --cfg-options model.type=DHMClassifier model.exit_type=dhm model.exit_stages=None \
#                 model.kl_pairs=all
_base_ = ['../ce/resnet18_1xb128_cifar100.py', '../_base_/methods/dhm.py']

model = _base_.dhm_style
