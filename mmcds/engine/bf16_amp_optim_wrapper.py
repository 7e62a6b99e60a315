from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


# Registered in mmengine's root registry so that mmpretrain- and mmdet-scope configs
# both find it.
@OPTIM_WRAPPERS.register_module()
class BF16AmpOptimWrapper(OptimWrapper):
    """Mixed precision with bfloat16 autocast and no loss scaling, on CUDA or the CPU.

    The forward pass (and the losses) run under ``torch.autocast`` with bfloat16 on
    the device of the model's parameters; the update is :class:`OptimWrapper`'s, on
    the float32 weights. bfloat16 keeps float32's exponent range, so gradients do not
    underflow and no loss scaling is needed: unlike mmengine's ``AmpOptimWrapper``,
    which always scales, there is no ``GradScaler``, whose ``step`` reads the
    found-inf flag on the host every iteration (a wait for the GPU). ``tools/train.py
    --amp`` picks it for classifiers on GPUs with native bfloat16 (compute capability
    8.0 and newer: A100, H100, H200, L4, RTX 30xx/40xx); see
    :func:`mmcds.engine.amp.amp_optim_wrapper`.

    Args:
        dtype (str | torch.dtype): must be bfloat16 (the only type that needs no
            scaling); for float16 use ``AmpOptimWrapper``.
        **kwargs: :class:`OptimWrapper`'s arguments.
    """

    def __init__(self, *args, dtype='bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'{type(self).__name__}.dtype: only "bfloat16" needs no '
                             f'loss scaling, got {dtype!r}; for float16 use '
                             "type='AmpOptimWrapper'")
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The parent context inside bfloat16 autocast on the model's device."""
        device_type = next(model.parameters()).device.type
        with super().optim_context(model), \
                torch.autocast(device_type=device_type, dtype=self.cast_dtype):
            yield
