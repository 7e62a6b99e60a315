# Where the baselines' ImageNet ResNet-50 classifiers (configs/{dsn,dks,dhm}/
# resnet50_8xb32_in1k.py) are expected, and how to make each, for the detectors that
# start from their backbones (faster_rcnn_r50_<method>.py, retinanet_r50_<method>.py).
# Each is trained with its own --work-dir: the configs share a file name, so their
# default work_dirs (work_dirs/resnet50_8xb32_in1k, also CDS's) would coincide. The
# converter-free path works for every classifier of ours: the detectors read the
# checkpoint's backbone.* tensors (prefix 'backbone.'); exits and heads are ignored.
baseline_checkpoints = {
    method: dict(
        path=f'work_dirs/{method}_resnet50_8xb32_in1k/epoch_90.pth',
        hint='Pretrain the backbone first: python tools/train.py '
        f'configs/{method}/resnet50_8xb32_in1k.py --work-dir '
        f'work_dirs/{method}_resnet50_8xb32_in1k (writes its epoch_90.pth).')
    for method in ('dsn', 'dks', 'dhm')
}
