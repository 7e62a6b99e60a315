"""Utilities without a registry.

Safe checkpoint loading (:mod:`.checkpoint`,
:mod:`.safe_checkpoint`), launching helpers for the tools (:mod:`.launch`) and the
mmcv fix for numpy 2 (:mod:`.mmcv_compat`)."""
from .safe_checkpoint import SAFE_CHECKPOINT_GLOBALS, register_safe_checkpoint_globals

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'register_safe_checkpoint_globals']
