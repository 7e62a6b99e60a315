# The runtime of the short CIFAR-10 runs (default_runtime.py otherwise): log every 50
# iterations, a checkpoint every 5 epochs (the last 2 kept), seed 0, so that methods
# compared on this data start from the same initialisation and data order.
_base_ = './default_runtime.py'

default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=5, max_keep_ckpts=2))
randomness = dict(seed=0)
