# Contrastive Deep Supervision while fine-tuning on Stanford Cars (paper Table 6): the
# CE config (ResNet-50 from the ImageNet checkpoint, data, schedule) with two views and
# SupCon on every stage (_base_/methods/cds.py). Paper numbers: configs/cds/README.md.
_base_ = ['../ce/resnet50_8xb8_stanford-cars.py', '../_base_/methods/cds.py']

model = _base_.method
train_dataloader = dict(dataset=dict(pipeline=_base_.two_view_pipeline))
data_preprocessor = dict(type='MultiViewClsDataPreprocessor')
