# The narrow backbone and FPN of the small coco128 detectors (CPU runs, tests, demos):
# a ResNet-18 of stem and base width 16 (mmpretrain's
# ResNet(depth=18, stem_channels=16, base_channels=16)) and a 32-channel FPN. The
# backbone starts from a classifier checkpoint with that backbone (type='ResNet', 7x7
# stem; ResNet_CIFAR's 3x3 stem does not fit and is refused); there is no default file,
# PretrainedCheckHook asks for one at start. Detectors apply it with
# `model = dict(backbone=_base_.narrow_backbone, neck=_base_.narrow_fpn, ...)`.
narrow_backbone = dict(
    depth=18,
    stem_channels=16,
    base_channels=16,
    init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.'))
narrow_fpn = dict(in_channels=[16, 32, 64, 128], out_channels=32)
