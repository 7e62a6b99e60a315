# Oxford Flowers-102 (mmpretrain's Flowers102) on the fine-grained recipe
# (fine_grained_bs8_448.py): 102 classes, the 'trainval' split for training and 'test'
# for testing. Under the data root: jpg/image_<n>.jpg, imagelabels.mat, setid.mat.
# Elsewhere: MMCDS_FLOWERS102=/path, or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
_base_ = './fine_grained_bs8_448.py'

data_preprocessor = dict(num_classes=102)
flowers102 = dict(type='Flowers102', data_root='{{$MMCDS_FLOWERS102:data/Flowers102}}')
train_dataloader = dict(dataset=dict(flowers102, split='trainval'))
val_dataloader = test_dataloader = dict(dataset=dict(flowers102, split='test'))
