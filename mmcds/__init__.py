"""mmcds: Contrastive Deep Supervision for MMPretrain and MMDetection.

Importing this package registers its models, transforms and metrics into mmpretrain's
registries, its hooks, sampler and optimizer wrapper into mmengine's (so that
mmpretrain- and mmdet-scope configs both find them), allow-lists the types mmengine
checkpoints need for ``torch.load`` with ``weights_only=True``, lets configs inherit
ours as ``_base_ = 'mmcds::cds/...'`` (:mod:`mmcds.registry`) and adds our model names
to mmpretrain's model list (:mod:`mmcds.utils.model_index`). Configs load it with
``custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)``.
"""
from .warning_filters import filter_uninformative_warnings

filter_uninformative_warnings()  # first: importing mmengine below warns already

from .utils.environment import check_environment  # noqa: E402

# Python and torch in range; mmpretrain without the models transformers 5 breaks.
check_environment()

from . import registry  # noqa: E402,F401  the 'mmcds::' config scope
from .utils import register_safe_checkpoint_globals  # noqa: E402
from .utils.mmcv_compat import patch_mmcv_for_numpy2  # noqa: E402
from .version import __version__  # noqa: E402

register_safe_checkpoint_globals()
patch_mmcv_for_numpy2()

from . import models  # noqa: E402,F401  registers into mmpretrain's registries
from . import datasets  # noqa: E402,F401  registers transforms, data sets, samplers
from . import evaluation  # noqa: E402,F401  registers metrics into mmpretrain's METRICS
from . import engine  # noqa: E402,F401  registers CPUAmpOptimWrapper and the hooks
from .utils.model_index import register_model_index  # noqa: E402

register_model_index()

__all__ = ['__version__', 'register_safe_checkpoint_globals']
