# Distilled CDS on CIFAR-100, the reference's defaults (contrastive-deep-supervision,
# CIFAR/distill.py: --model resnet18 --teacher resnet50, 300 epochs): CIFAR ResNet-18
# student (configs/cds/resnet18_1xb128_cifar100.py), ResNet-50 CDS teacher
# (configs/cds/resnet50_1xb128_cifar100.py), the CIFAR preset of cds_distill.py.
#   python tools/train.py \
#       configs/distill/resnet18_r50-teacher_1xb128_cifar100.py \
#       --cfg-options \
#       model.teacher_checkpoint=work_dirs/resnet50_1xb128_cifar100/epoch_300.pth
_base_ = ['../cds/resnet18_1xb128_cifar100.py', '../_base_/methods/cds_distill.py']

model = dict(_base_.distill, teacher_config='configs/cds/resnet50_1xb128_cifar100.py')
