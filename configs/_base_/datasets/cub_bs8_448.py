# CUB-200-2011 (mmpretrain's CUB) on the fine-grained recipe (fine_grained_bs8_448.py):
# 200 classes, the 'train' split for training and 'test' for testing. Under the data
# root: images/<class>/*.jpg, images.txt, image_class_labels.txt, train_test_split.txt
# (CUB_200_2011.tgz unpacked).
# Elsewhere: MMCDS_CUB=/path, or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
_base_ = './fine_grained_bs8_448.py'

data_preprocessor = dict(num_classes=200)
cub = dict(type='CUB', data_root='{{$MMCDS_CUB:data/CUB_200_2011}}')
train_dataloader = dict(dataset=dict(cub, split='train'))
val_dataloader = test_dataloader = dict(dataset=dict(cub, split='test'))
