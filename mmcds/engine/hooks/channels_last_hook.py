import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


# Registered in mmengine's root registry so that mmpretrain- and mmdet-scope configs
# both find it.
@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Store the model's 4-D weights (and so its conv activations) channels-last.

    Turn it on for any config with ``custom_hooks = [dict(type='ChannelsLastHook')]``
    (or ``--cfg-options "custom_hooks=[dict(type='ChannelsLastHook')]"``). Before
    training, validation and testing it runs ``model.to(memory_format=
    torch.channels_last)``: every 4-D parameter and buffer (conv weights) becomes NHWC.
    A convolution with an NHWC weight returns an NHWC output whatever its input's
    layout, so the whole backbone then runs channels-last (oneDNN on the CPU, Tensor
    Core kernels on CUDA) without touching the data pipeline. The values computed are
    the same up to float rounding.

    It runs after mmengine has initialised the weights and loaded a checkpoint
    (``before_train`` comes after both), converting in place: the optimizer keeps
    the same parameter objects. Under DDP the wrapped module is converted; DDP then
    copies gradients into its (NCHW) buckets, which is correct, only slower.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def convert(runner) -> None:
        """Make the runner's model channels-last (idempotent)."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.to(memory_format=torch.channels_last)

    def before_train(self, runner) -> None:
        self.convert(runner)

    def before_val(self, runner) -> None:
        self.convert(runner)

    def before_test(self, runner) -> None:
        self.convert(runner)
