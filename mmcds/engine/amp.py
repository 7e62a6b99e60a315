"""What ``--amp`` turns on (``tools/train.py``, the benchmark tool).

:func:`amp_optim_wrapper` picks the optimizer wrapper for the machine and the model:

- no CUDA: ``CPUAmpOptimWrapper`` (bfloat16 autocast, the only CPU autocast type)
  for classifiers; detectors stop with one line (mmcv 2.1.0's CPU NMS and RoIAlign
  take float32 only, so their first iteration would fail);
- a classifier on a GPU with native bfloat16 (``torch.cuda.is_bf16_supported(
  including_emulation=False)``, compute capability 8.0+): ``BF16AmpOptimWrapper``,
  bfloat16 autocast without loss scaling, so no host synchronisation per step;
- anything else on CUDA: mmengine's ``AmpOptimWrapper``, float16 autocast with
  dynamic loss scaling (what mmpretrain's and mmdet's ``--amp`` set). Detectors stay
  there: mmcv 2.1.0's CUDA ops (RoIAlign, NMS) were not verified with bfloat16
  inputs, and mmdet's own ``--amp`` is float16.

A config that already sets ``optim_wrapper.dtype='float16'`` keeps float16 with
scaling; ``--cfg-options optim_wrapper.type=AmpOptimWrapper`` after ``--amp``
(applied later by the tools) forces it too.
"""
from typing import Optional

import torch
from mmengine.config import Config

FP16_SCOPES = ('mmdet', )


def native_bf16(device_index: Optional[int] = None) -> bool:
    """Whether the CUDA device computes in bfloat16 natively (not emulated)."""
    if not torch.cuda.is_available():
        return False
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a torch without the argument reports native support only
        return torch.cuda.is_bf16_supported()


def amp_optim_wrapper(scope: str = 'mmpretrain', cuda: Optional[bool] = None,
                      bf16: Optional[bool] = None,
                      dtype: Optional[str] = None) -> dict:
    """The ``optim_wrapper`` fields ``--amp`` sets (module docstring).

    Args:
        scope (str): the config's ``default_scope``.
        cuda (bool, optional): whether the run uses CUDA; this machine's when None.
        bf16 (bool, optional): whether the GPU has native bfloat16; this machine's
            when None.
        dtype (str, optional): the config's ``optim_wrapper.dtype``, if any.
    """
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if not cuda and scope in FP16_SCOPES:
        raise SystemExit(
            '--amp: a detector cannot train under autocast on the CPU (bfloat16 is '
            "the CPU's only autocast type, and mmcv 2.1.0's CPU NMS and RoIAlign take "
            'float32 only: "expected scalar type Float but found BFloat16"); train it '
            'without --amp on the CPU, or with --amp on a GPU (float16)')
    if not cuda:
        return dict(type='CPUAmpOptimWrapper')
    bf16 = native_bf16() if bf16 is None else bf16
    if bf16 and scope not in FP16_SCOPES and str(dtype) not in ('float16',
                                                                 'torch.float16'):
        return dict(type='BF16AmpOptimWrapper')
    return dict(type='AmpOptimWrapper', loss_scale='dynamic')


def use_amp(cfg: Config) -> dict:
    """Turn ``--amp`` on in ``cfg.optim_wrapper`` (in place); returns what was set.

    A ``loss_scale`` the config gives is kept for ``AmpOptimWrapper`` and dropped
    for the wrappers that do not scale."""
    wrapper = cfg.optim_wrapper
    chosen = amp_optim_wrapper(cfg.get('default_scope', None) or 'mmpretrain',
                               dtype=wrapper.get('dtype', None))
    wrapper.type = chosen['type']
    if chosen['type'] == 'AmpOptimWrapper':
        wrapper.setdefault('loss_scale', chosen['loss_scale'])
    else:
        wrapper.pop('loss_scale', None)
    return chosen
