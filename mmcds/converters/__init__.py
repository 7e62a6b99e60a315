"""Checkpoint conversion from our classifiers to other formats.

From our classifiers to plain mmpretrain, backbone-only (mmdet)
and torchvision checkpoints; ``tools/model_converters/convert_cds_checkpoint.py`` is the
command-line front end. Safe loading and architecture inference live in
:mod:`mmcds.utils.checkpoint`."""
from .cds_checkpoint import (CLASSIFIER_PREFIXES, FORMATS, convert_checkpoint,
                             to_backbone, to_classifier, to_torchvision)

__all__ = [
    'CLASSIFIER_PREFIXES', 'FORMATS', 'convert_checkpoint', 'to_backbone',
    'to_classifier', 'to_torchvision'
]
