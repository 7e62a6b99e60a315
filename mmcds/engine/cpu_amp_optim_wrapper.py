from mmengine.registry import OPTIM_WRAPPERS

from .bf16_amp_optim_wrapper import BF16AmpOptimWrapper


# Registered in mmengine's root registry so that mmpretrain- and mmdet-scope configs
# both find it.
@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(BF16AmpOptimWrapper):
    """Mixed precision on the CPU: the forward pass runs under bfloat16 autocast.

    :class:`BF16AmpOptimWrapper` under the name ``tools/train.py --amp`` sets on
    machines without CUDA (kept for the configs and logs that name it): mmengine's
    ``AmpOptimWrapper`` refuses to start without a GPU, and CPU autocast supports
    bfloat16 only, which needs no loss scaling.
    """
