# Contrastive Deep Supervision on ImageNet-1k with the CDS authors' ResNet-18:
# resnet18_8xb32_in1k.py whose stem has no max-pool (ResNetNoMaxPool). The authors'
# ImageNet ResNet (contrastive-deep-supervision,
# ImageNet/Contrastive_Deep_Supervision/resnet.py) defines self.maxpool but its
# _forward_impl never applies it, so the stages run at 112/56/28/14 px for a 224 px
# image, at about 4x the FLOPs of mmpretrain's ResNet-18. Compare it only with another
# *-nomaxpool config (configs/cds/README.md, "What the paper's ImageNet numbers may rest
# on"). mmpretrain's network again: --cfg-options model.backbone.type=ResNet
_base_ = './resnet18_8xb32_in1k.py'

model = dict(backbone=dict(type='ResNetNoMaxPool'))
