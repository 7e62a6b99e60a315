from .safe_checkpoint import SAFE_CHECKPOINT_GLOBALS, register_safe_checkpoint_globals

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'register_safe_checkpoint_globals']
