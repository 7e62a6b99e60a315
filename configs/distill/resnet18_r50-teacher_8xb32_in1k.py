# Distilled CDS on ImageNet-1k: ResNet-18 student (configs/cds/resnet18_8xb32_in1k.py)
# and a ResNet-50 CDS teacher (configs/cds/resnet50_8xb32_in1k.py), the reference's
# pairing (contrastive-deep-supervision, ImageNet/KD_Contrastive_Deep_Supervision/
# main.py: teacher = resnet50, adaptation layers Linear(512, 2048)). Its ImageNet
# preset: T = 1 (CrossEntropy without a temperature), w_kd = 1, w_feat = 0.5
# (torch.dist(...) * 5e-1), w_con = 0.5 (contra_criterion(...) * 5e-1).
#   tools/dist_train.sh configs/distill/resnet18_r50-teacher_8xb32_in1k.py 8 \
#       --cfg-options model.teacher_checkpoint=work_dirs/resnet50_8xb32_in1k/epoch_90.pth
_base_ = ['../cds/resnet18_8xb32_in1k.py', '../_base_/methods/cds_distill.py']

model = dict(_base_.distill, teacher_config='configs/cds/resnet50_8xb32_in1k.py',
             kd_temperature=1.0, feat_loss_weight=0.5, cds_loss=dict(loss_weight=0.5))
