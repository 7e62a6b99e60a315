"""mmcds: Contrastive Deep Supervision for MMPretrain and MMDetection.

Importing this package registers its models, transforms and metrics into mmpretrain's
registries, and allow-lists the types mmengine checkpoints need for ``torch.load`` with
``weights_only=True``. Configs load it with
``custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)``.
"""
from .utils import register_safe_checkpoint_globals
from .utils.mmcv_compat import patch_mmcv_for_numpy2
from .version import __version__

register_safe_checkpoint_globals()
patch_mmcv_for_numpy2()

from . import models  # noqa: E402,F401  registers into mmpretrain's registries
from . import datasets  # noqa: E402,F401  registers transforms, data sets, samplers
from . import evaluation  # noqa: E402,F401  registers metrics into mmpretrain's METRICS
from . import engine  # noqa: E402,F401  registers CPUAmpOptimWrapper into mmengine

__all__ = ['__version__', 'register_safe_checkpoint_globals']
