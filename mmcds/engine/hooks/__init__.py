from .channels_last_hook import ChannelsLastHook
from .class_check_hook import ClassCheckHook
from .data_error_hook import DataErrorHook
from .exact_resume_hook import ExactResumeHook
from .non_finite_loss_hook import NonFiniteLossHook

__all__ = [
    'ChannelsLastHook', 'ClassCheckHook', 'DataErrorHook', 'ExactResumeHook',
    'NonFiniteLossHook'
]
