"""MMDetection-side parts of mmcds.

Importing this module (detection configs list it in
``custom_imports``) registers them into mmdet's registries."""
from .pretrained_check_hook import PretrainedCheckHook
from .pretrained_checks import (check_all, check_checkpoint_file,
                                check_config_checkpoints, check_pretrained_init,
                                pretrained_inits)

__all__ = [
    'PretrainedCheckHook', 'check_all', 'check_checkpoint_file',
    'check_config_checkpoints', 'check_pretrained_init', 'pretrained_inits'
]
