# mmpretrain's runtime (default hooks, logging, environment) plus what every mmcds
# classifier config needs: importing mmcds registers its models, metrics and hooks, and
# the reliability hooks (README, "When things go wrong") stop a run early with one line
# instead of letting it fail late or train on wrong data.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)
custom_hooks = [
    dict(type='NonFiniteLossHook'),  # NaN/inf loss or weights: stop, never save them
    dict(type='ClassCheckHook'),  # empty class folders, class lists, num_classes
    dict(type='DataErrorHook'),  # a sample that fails names its file and data set
    dict(type='ExactResumeHook'),  # --resume continues exactly (with the sampler below)
]
