"""The detection runner's hook that checks ``Pretrained`` init configs at start."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from .pretrained_checks import check_all


@HOOKS.register_module()
class PretrainedCheckHook(Hook):
    """Check the model's ``Pretrained`` init configs before any weight is loaded.

    Runs at ``before_run`` of training, before ``Runner`` initialises the weights, so
    a wrong ``model.backbone.init_cfg.checkpoint`` (unset, missing file, not a
    checkpoint, no ``backbone.*`` tensors, another depth or stem) stops the run with an
    error naming that field, instead of an anonymous ``FileNotFoundError`` or training
    from random weights after "size mismatch" warnings. On success it logs which file
    fills how many tensors of which module. Testing (``load_from``) is not checked.

    Args:
        strict (bool): also fail on tensors of the module missing from the
            checkpoint. Defaults to True.
        hint (str): appended to the error for a missing file, e.g. how to make it.
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True, hint: str = ''):
        self.strict = strict
        self.hint = hint

    def before_run(self, runner) -> None:
        """Check every Pretrained init config before training initialises weights."""
        # Runner.train() builds its loop before calling before_run; val()/test() do not
        # initialise weights (they load_from a detector checkpoint) and keep it a dict.
        if not isinstance(runner._train_loop, BaseLoop):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if getattr(model, 'is_init', False):
            return
        logger = MMLogger.get_current_instance()
        for line in check_all(model, self.strict, self.hint):
            logger.info(line)
