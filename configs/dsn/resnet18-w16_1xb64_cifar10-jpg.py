# Deeply-Supervised Nets on the narrow CIFAR ResNet-18 of
# configs/ce/resnet18-w16_1xb64_cifar10-jpg.py, same data, schedule and seed: a
# cross-entropy classifier after stages 1-3 (CDS's SepConv path + pooling + Linear,
# the auxiliary capacity CDS's projection heads have), weight 0.3 each.
_base_ = '../ce/resnet18-w16_1xb64_cifar10-jpg.py'

model = dict(
    type='DSNClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    aux_stages=(0, 1, 2),
    aux_exit='sepconv',
    aux_loss_weight=0.3)
# Calibration next to accuracy (lower ECE is better).
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_evaluator = val_evaluator
