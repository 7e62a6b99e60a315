# Stanford Cars (mmpretrain's StanfordCars) on the fine-grained recipe
# (fine_grained_bs8_448.py): 196 classes, the 'train' split for training and 'test' for
# testing. Under the data root: car_ims/*.jpg + cars_annos.mat, or cars_train/,
# cars_test/ + devkit/cars_train_annos.mat, devkit/cars_test_annos_withlabels.mat.
# Elsewhere: MMCDS_STANFORD_CARS=/path, or --cfg-options
# train_dataloader.dataset.data_root=R val_dataloader.dataset.data_root=R
_base_ = './fine_grained_bs8_448.py'

data_preprocessor = dict(num_classes=196)
cars = dict(type='StanfordCars', data_root='{{$MMCDS_STANFORD_CARS:data/Stanford_Cars}}')
train_dataloader = dict(dataset=dict(cars, split='train'))
val_dataloader = test_dataloader = dict(dataset=dict(cars, split='test'))
