from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .hooks import ClassCheckHook, DataErrorHook, ExactResumeHook, NonFiniteLossHook

__all__ = [
    'CPUAmpOptimWrapper', 'ClassCheckHook', 'DataErrorHook', 'ExactResumeHook',
    'NonFiniteLossHook'
]
