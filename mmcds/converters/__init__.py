"""Checkpoint conversion from our classifiers to other formats.

From our classifiers to plain mmpretrain, backbone-only (mmdet)
and torchvision checkpoints; ``tools/model_converters/convert_cds_checkpoint.py`` is the
command-line front end. :mod:`.onnx_export` exports the plain classifier to ONNX
(``tools/deployment/pytorch2onnx.py``). Safe loading and architecture inference live in
:mod:`mmcds.utils.checkpoint`."""
from .cds_checkpoint import (CLASSIFIER_PREFIXES, FORMATS, convert_checkpoint,
                             to_backbone, to_classifier, to_torchvision)
from .onnx_export import build_plain_classifier, export_onnx, plain_classifier_config

__all__ = [
    'CLASSIFIER_PREFIXES', 'FORMATS', 'build_plain_classifier', 'convert_checkpoint',
    'export_onnx', 'plain_classifier_config', 'to_backbone', 'to_classifier',
    'to_torchvision'
]
