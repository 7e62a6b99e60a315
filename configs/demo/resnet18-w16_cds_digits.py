# Demo (make demo): the classifier of resnet18-w16_ce_digits.py trained with Contrastive
# Deep Supervision (_base_/methods/cds.py): same backbone, schedule and seed; a second
# view and a SupCon term on every stage.
# (color_distortion comes with the CE config's CIFAR data base.)
_base_ = ['./resnet18-w16_ce_digits.py', '../_base_/methods/cds.py']

model = _base_.method
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
# View 1 is the CE model's view; view 2 adds SimCLR's crop and colour (no flips).
view2_pipeline = [
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0)),
    *_base_.color_distortion,
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[_base_.view1_pipeline, view2_pipeline]),
    dict(type='PackInputs'),
]))
