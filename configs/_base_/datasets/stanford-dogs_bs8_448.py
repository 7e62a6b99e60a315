# Stanford Dogs (mmcds's StanfordDogs) on the fine-grained recipe
# (fine_grained_bs8_448.py): 120 classes, the 'train' split for training and 'test' for
# testing. Under the data root: Images/<wnid>-<breed>/*.jpg, train_list.mat,
# test_list.mat (images.tar and lists.tar unpacked).
# Elsewhere: MMCDS_STANFORD_DOGS=/path, or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
_base_ = './fine_grained_bs8_448.py'

data_preprocessor = dict(num_classes=120)
dogs = dict(type='StanfordDogs', data_root='{{$MMCDS_STANFORD_DOGS:data/StanfordDogs}}')
train_dataloader = dict(dataset=dict(dogs, split='train'))
val_dataloader = test_dataloader = dict(dataset=dict(dogs, split='test'))
