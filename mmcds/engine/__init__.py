from .amp import amp_optim_wrapper, use_amp
from .bf16_amp_optim_wrapper import BF16AmpOptimWrapper
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import (ChannelsLastHook, ClassCheckHook, DataErrorHook, ExactResumeHook,
                    NonFiniteLossHook)

__all__ = [
    'BF16AmpOptimWrapper', 'CPUAmpOptimWrapper', 'ChannelsLastHook', 'ClassCheckHook',
    'DataErrorHook', 'ExactResumeHook', 'NonFiniteLossHook', 'amp_optim_wrapper',
    'use_amp'
]
