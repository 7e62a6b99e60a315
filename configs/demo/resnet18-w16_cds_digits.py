# Demo (make demo): the classifier of resnet18-w16_ce_digits.py trained with Contrastive
# Deep Supervision: same backbone, schedule and seed; a second view and a SupCon term
# on every stage.
_base_ = './resnet18-w16_ce_digits.py'

model = dict(
    type='CDSClassifier',
    backbone=dict(out_indices=(0, 1, 2, 3)),
    cds_neck=dict(type='CDSNeck'),  # in_channels: probed from the backbone
    cds_loss=dict(type='ContrastiveDSLoss', temperature=0.07, loss_weight=0.1,
                  supervised=True))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
view1_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomCrop', crop_size=32, padding=3),
]
view2_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
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
