# FGVC Aircraft, 100 variants (mmpretrain's FGVCAircraft) on the fine-grained recipe
# (fine_grained_bs8_448.py): 100 classes, the 'trainval' split for training and 'test'
# for testing. Under the data root: data/images/<id>.jpg,
# data/images_variant_{trainval,test}.txt.
# Elsewhere: MMCDS_AIRCRAFT=/path, or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
_base_ = './fine_grained_bs8_448.py'

data_preprocessor = dict(num_classes=100)
fgvc = dict(type='FGVCAircraft', data_root='{{$MMCDS_AIRCRAFT:data/fgvc-aircraft-2013b}}')
train_dataloader = dict(dataset=dict(fgvc, split='trainval'))
val_dataloader = test_dataloader = dict(dataset=dict(fgvc, split='test'))
