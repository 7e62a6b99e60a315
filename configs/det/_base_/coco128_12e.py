# Schedule and runtime of the small coco128 detectors (faster_rcnn_r18-w16_fpn_coco128.py,
# retinanet_r18-w16_fpn_coco128.py): mmdet's 1x schedule shape in 12 short epochs of
# ~63 iterations (batch 2) with a shorter warm-up, the check that the backbone's
# pretrained checkpoint exists, and the reliability hooks. Each detector sets its own
# learning rate.
_base_ = ['mmdet::_base_/schedules/schedule_1x.py', 'mmdet::_base_/default_runtime.py']

custom_imports = dict(imports=['mmcds', 'mmcds.det'], allow_failed_imports=False)
# The reliability hooks of classifiers (README, "When things go wrong") but exact
# resume: AspectRatioBatchSampler cannot skip part of an epoch.
custom_hooks = [dict(type='PretrainedCheckHook'), dict(type='NonFiniteLossHook'),
                dict(type='ClassCheckHook'), dict(type='DataErrorHook')]

train_cfg = dict(max_epochs=12, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11],
         gamma=0.1)
]
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(base_batch_size=2)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=4, max_keep_ckpts=2))
log_processor = dict(window_size=10)
