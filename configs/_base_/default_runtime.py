# mmpretrain's runtime (default hooks, logging, environment) plus what every mmcds
# classifier config needs: importing mmcds registers its models, metrics and hooks.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)
