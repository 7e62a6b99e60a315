# mmpretrain's ImageNet data (data/imagenet, 32 images per GPU; RandomResizedCrop 224 +
# flip for training, ResizeEdge 256 + CenterCrop 224 for evaluation), with the
# evaluators every method reports: top-1/top-5 and calibration (ECE, 15 bins, lower is
# better; the paper claims CDS improves uncertainty estimation). Batches are stacked by
# default_collate, as mmpretrain's tools/train.py does, so that mmengine's own
# Runner.from_cfg builds the same loader as tools/train.py.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32.py'

# ExactResumeSampler seeds each sample's augmentation by (seed, epoch, index) and lets
# --resume continue inside an epoch (ExactResumeHook, default_runtime.py).
train_dataloader = dict(sampler=dict(type='ExactResumeSampler', shuffle=True),
                        collate_fn=dict(type='default_collate'))
val_dataloader = dict(collate_fn=dict(type='default_collate'))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
test_evaluator = val_evaluator
