from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


# Registered in mmengine's root registry so that mmpretrain- and mmdet-scope configs
# both find it.
@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Mixed precision on the CPU: the forward pass runs under bfloat16 autocast.

    mmengine's ``AmpOptimWrapper`` refuses to start without a GPU, and CPU autocast
    supports bfloat16 only. bfloat16 keeps float32's exponent range, so no loss scaling
    is needed; ``tools/train.py --amp`` picks this wrapper on machines without CUDA.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs):
        super().__init__(*args, **kwargs)
        if dtype != 'bfloat16':
            raise ValueError('CPUAmpOptimWrapper.dtype: only "bfloat16" runs on the '
                             f'CPU, got {dtype!r}')
        self.cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: nn.Module):
        """The parent context inside bfloat16 CPU autocast."""
        with super().optim_context(model), \
                torch.autocast(device_type='cpu', dtype=self.cast_dtype):
            yield
