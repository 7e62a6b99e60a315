# Distilled CDS on ImageNet-1k, ResNet-34 student. The paper does not name the teacher;
# ours is the ResNet-50 CDS teacher that the reference code hard-codes for every
# student (ImageNet/KD_Contrastive_Deep_Supervision/main.py), whose Linear(512, 2048)
# adaptation layers fit ResNet-34's 512-wide embeddings as they fit ResNet-18's.
_base_ = './resnet18_r50-teacher_8xb32_in1k.py'

model = dict(backbone=dict(depth=34))
