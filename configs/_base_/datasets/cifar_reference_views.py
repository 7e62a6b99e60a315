# The reference CIFAR recipe's normalisation and two training views
# (contrastive-deep-supervision, CIFAR/train.py), shared by the CIFAR data bases:
# - normalisation: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) x 255,
#   used by the reference for CIFAR-100 as well;
# - view 1 (transform1; the only view cross-entropy sees): RandomCrop(32, padding 4,
#   fill 128) + horizontal flip + Cutout(n_holes=1, length=16) (CIFAR/cutout.py: a hole
#   clipped at the borders, filled with 0: mmcds's ClippedCutout);
# - view 2 (transform2; seen by the contrastive terms only): RandomCrop(32, padding 4)
#   + flip + ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8 + RandomGrayscale p 0.2.
_base_ = './contrastive_color.py'

cifar_normalisation = dict(mean=[125.307, 122.961, 113.8575],
                           std=[51.5865, 50.847, 51.255])
view1_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=128),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ClippedCutout', length=16, n_holes=1, pad_val=0),
]
view2_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    *_base_.color_distortion,
]
