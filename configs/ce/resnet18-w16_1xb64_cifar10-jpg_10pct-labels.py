# Cross-entropy on the labelled 10% of the CIFAR-10 JPEGs alone: the baseline of
# configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py (same labelled images:
# SemiSupervisedDataset with the same fraction and seed, unlabelled images dropped),
# on the CE smoke config resnet18-w16_1xb64_cifar10-jpg.py.
_base_ = ['./resnet18-w16_1xb64_cifar10-jpg.py',
          '../_base_/datasets/labelled_10pct.py']

train_dataloader = dict(dataset=dict(
    _base_.labelled_10pct, _delete_=True, dataset=_base_.train_dataloader.dataset,
    drop_unlabelled=True))
