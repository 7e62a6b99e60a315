"""Checkpoint conversion from CDS classifiers to plain mmpretrain, backbone-only (mmdet)
and torchvision checkpoints; ``tools/model_converters/convert_cds_checkpoint.py`` is the
command-line front end."""
from .cds_checkpoint import (FORMATS, RESNET_ARCHS, CheckpointError, ResNetArch,
                             backbone_of, check_depth, convert_checkpoint,
                             infer_resnet_arch, load_cds_checkpoint, to_backbone,
                             to_classifier, to_torchvision)

__all__ = [
    'FORMATS', 'RESNET_ARCHS', 'CheckpointError', 'ResNetArch', 'backbone_of',
    'check_depth', 'convert_checkpoint', 'infer_resnet_arch', 'load_cds_checkpoint',
    'to_backbone', 'to_classifier', 'to_torchvision'
]
