# Classic KD (Hinton et al., 2015) with the distiller: the feature and contrastive terms
# off, so the student learns from CE + the soft cross-entropy to the teacher (T = 3,
# weight 1, no T^2, as the distilled-CDS config) on one view (the CE config's).
_base_ = './resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg.py'

model = dict(feat_loss_weight=0., cds_loss=dict(loss_weight=0.))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'), *_base_.view1_pipeline, dict(type='PackInputs')]))
