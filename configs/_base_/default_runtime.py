# mmpretrain's runtime (default hooks, logging, environment) plus what every mmcds
# classifier config needs: importing mmcds registers its models, metrics and hooks, and
# the reliability hooks (README, "When things go wrong") stop a run early with one line
# instead of letting it fail late or train on wrong data.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)
# Besides epoch_N.pth, keep the checkpoint of the best validation top-1 so far
# (best_accuracy_top1_epoch_N.pth, weights only; a strictly higher top-1 replaces it),
# as the authors report the best test accuracy over all epochs
# (contrastive-deep-supervision: CIFAR/train.py best_acc, ImageNet/*/main.py best_acc1
# and model_best.pth.tar, kept when acc1 > best). Their "test" split is the one they
# validate on, so a best-epoch number is chosen on the data it is scored on: compare
# with the paper's numbers by the best checkpoint, and report the final one (the last
# epoch_N.pth) beside it. Off: --cfg-options default_hooks.checkpoint.save_best=None
default_hooks = dict(checkpoint=dict(save_best='accuracy/top1', rule='greater'))
custom_hooks = [
    dict(type='NonFiniteLossHook'),  # NaN/inf loss or weights: stop, never save them
    dict(type='ClassCheckHook'),  # empty class folders, class lists, num_classes
    dict(type='DataErrorHook'),  # a sample that fails names its file and data set
    dict(type='ExactResumeHook'),  # --resume continues exactly (with the sampler below)
]
