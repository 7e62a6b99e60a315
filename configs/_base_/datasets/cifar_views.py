# The input side of the reference CIFAR recipe (contrastive-deep-supervision,
# CIFAR/train.py and CIFAR/distill.py), shared by the CIFAR data bases:
# - normalisation: Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) x255,
#   which the recipe uses for CIFAR-10 and CIFAR-100 alike;
# - view 1 (transform1, the only view cross-entropy sees): RandomCrop(32, padding 4,
#   fill 128) + flip + Cutout (one 16x16 hole filled with 0).
# The *_2views bases add the recipe's view 2 (transform2, seen only by the contrastive
# terms): RandomCrop(32, padding 4) + flip + colour distortion (contrastive_color.py).
cifar_normalization = dict(mean=[125.307, 122.961, 113.8575],
                           std=[51.5865, 50.847, 51.255])
view1_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=128),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=0, prob=1.0),
]
