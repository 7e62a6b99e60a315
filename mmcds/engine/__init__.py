from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import (ChannelsLastHook, ClassCheckHook, DataErrorHook, ExactResumeHook,
                    NonFiniteLossHook)

__all__ = [
    'CPUAmpOptimWrapper', 'ChannelsLastHook', 'ClassCheckHook', 'DataErrorHook',
    'ExactResumeHook', 'NonFiniteLossHook'
]
