"""Pieces several mmcds models share.

Pieces several mmcds models share: the SepConv chain, stage exits, stage probing,
auxiliary heads, and reading labels and views off a batch. Nothing here is registered;
the registered models in ``classifiers/`` and ``necks/`` are built from it."""
from .batch import labels_of, split_views
from .heads import average_softmax, linear_head_like
from .sep_conv import sep_conv_block, sep_conv_path
from .stage_exit import EXIT_TYPES, StageExit
from .stages import infer_stage_channels, per_stage_values, validate_exit_stages

__all__ = [
    'EXIT_TYPES', 'StageExit', 'average_softmax', 'infer_stage_channels', 'labels_of',
    'linear_head_like', 'per_stage_values', 'sep_conv_block', 'sep_conv_path',
    'split_views', 'validate_exit_stages'
]
