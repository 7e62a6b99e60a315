# The semi-supervised settings' labels: 10% of every class's training images keep their
# labels (seed 0), the others become unlabelled (mmcds's SemiSupervisedDataset). A leaf
# wraps the training set it inherits (which moves to train_dataloader.dataset.dataset):
#   train_dataloader = dict(
#       dataset=dict(_base_.labelled_10pct, _delete_=True,
#                    dataset=_base_.train_dataloader.dataset),
#       batch_sampler=dict(type='SemiSupervisedBatchSampler', num_labelled=N))
labelled_10pct = dict(type='SemiSupervisedDataset', labelled_fraction=0.1, seed=0)
