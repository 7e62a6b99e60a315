# mmpretrain's ImageNet ResNet-18 (7x7 stride-2 stem, max-pool, 1000-class linear head)
# with the CDS authors' initialisation of the residual branches: their last BN starts
# at weight 1, not 0 (contrastive-deep-supervision,
# ImageNet/Contrastive_Deep_Supervision/resnet.py: ResNet(..., zero_init_residual=False),
# which main.py never changes; mmpretrain's ResNet defaults to True). The paper-recipe
# ImageNet configs of every method use it, so CE and the deep-supervision methods start
# alike. mmpretrain's zero-initialised branches (our configs before issue #23):
#   --cfg-options model.backbone.zero_init_residual=True
_base_ = 'mmpretrain::_base_/models/resnet18.py'

model = dict(backbone=dict(zero_init_residual=False))
