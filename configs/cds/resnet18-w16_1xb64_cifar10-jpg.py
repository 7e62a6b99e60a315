# CDS on the narrow CIFAR ResNet-18 of configs/ce/resnet18-w16_1xb64_cifar10-jpg.py,
# same schedule and seed: the two differ only by the second view and the stage losses.
_base_ = '../ce/resnet18-w16_1xb64_cifar10-jpg.py'

model = dict(
    type='CDSClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    cds_neck=dict(type='CDSNeck'),  # in_channels: probed from the backbone
    cds_loss=dict(type='ContrastiveDSLoss', temperature=0.07, loss_weight=0.1,
                  supervised=True))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
view1_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
view2_pipeline = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[view1_pipeline, view2_pipeline]),
    dict(type='PackInputs'),
]))
