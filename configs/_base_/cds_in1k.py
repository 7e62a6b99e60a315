# What Contrastive Deep Supervision changes in mmpretrain's ImageNet ResNet recipe
# (Zhang et al., ECCV 2022). The configs in configs/cds/ list this file next to
# mmpretrain's own ResNet config; the names here are prefixed with cds_ so they
# never clash with the keys of mmpretrain's bases.
custom_imports = dict(imports=['mmcds'], allow_failed_imports=False)

# View 1: the classification view (cross-entropy is taken on it alone).
cds_view1_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# View 2: SimCLR-style, only seen by the contrastive terms.
cds_view2_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                 hue=0.1)
        ],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
cds_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[cds_view1_pipeline, cds_view2_pipeline]),
    dict(type='PackInputs'),
]
# lambda = 0.1 per stage, temperature 0.07, SupCon (supervised=False gives NT-Xent).
cds_loss = dict(type='ContrastiveDSLoss', temperature=0.07, loss_weight=0.1,
                supervised=True)
# The paper's ImageNet schedule: 90 epochs, lr x0.1 at epochs 30 and 60.
cds_param_scheduler = dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60],
                           gamma=0.1)
cds_train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
# Top-1/top-5 and calibration (ECE, 15 bins, lower is better): the paper claims CDS
# improves uncertainty estimation, and every contender reports both.
cds_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ExpectedCalibrationError', num_bins=15),
]
