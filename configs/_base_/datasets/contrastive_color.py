# The colour half of SimCLR's augmentation, which every second (contrastive) view uses:
# ColorJitter(0.4, 0.4, 0.4, 0.1) with p 0.8, grayscale with p 0.2 (Chen et al., 2020;
# contrastive-deep-supervision, CIFAR/train.py transform2). The *_2views data bases
# put it after their own crop and flip.
color_distortion = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
