"""Utilities without a registry.

Safe checkpoint loading and checks that a checkpoint loads (:mod:`.checkpoint`,
:mod:`.safe_checkpoint`), reading ``tools/test.py --out`` predictions without running
code (:mod:`.safe_pickle`), launching helpers for the tools (:mod:`.launch`, and
:mod:`.work_dir_lock`, one training run per work directory), the
mmcv fix for numpy 2 (:mod:`.mmcv_compat`), mmcv's CPU/CUDA ops (:mod:`.mmcv_ops`),
our model index in mmpretrain's model list (:mod:`.model_index`) and mmpretrain's
command-line tools run on our configs (:mod:`.mmpretrain_tools`)."""
from .safe_checkpoint import SAFE_CHECKPOINT_GLOBALS, register_safe_checkpoint_globals

__all__ = ['SAFE_CHECKPOINT_GLOBALS', 'register_safe_checkpoint_globals']
