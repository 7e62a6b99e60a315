# Distilled CDS on the CIFAR-10 JPEGs, a short CPU setting: the narrow ResNet-18 of
# configs/cds/resnet18-w16_1xb64_cifar10-jpg.py (same data, schedule, seed) learns from
# the width-32 CDS teacher of configs/cds/resnet18-w32_1xb64_cifar10-jpg.py, with the
# CIFAR preset of cds_distill.py (adaptation layers 128 -> 256).
_base_ = ['../cds/resnet18-w16_1xb64_cifar10-jpg.py', '../_base_/methods/cds_distill.py']

model = dict(_base_.distill,
             teacher_config='configs/cds/resnet18-w32_1xb64_cifar10-jpg.py')
