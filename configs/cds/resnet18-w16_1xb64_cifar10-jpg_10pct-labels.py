# Semi-supervised CDS on the CIFAR-10 JPEGs, a narrow, short CPU setting (the smoke
# config resnet18-w16_1xb64_cifar10-jpg.py): the training set keeps the labels of 10% of
# every class's images (seed 0; SemiSupervisedDataset), batches of 64 hold 8 labelled
# and 56 unlabelled images (1:7), an epoch is one pass over the unlabelled images.
# Cross-entropy on the labelled images only, the contrastive terms on all.
# Positives of the contrastive terms, OUR READING: an unlabelled image's only positive
# is its own other view (NT-Xent for it), a labelled image's are every view of its class
# among the labelled images (SupCon); the paper describes its semi-supervised pairs as
# built by data augmentation alone. That literal reading, labels unused by the
# contrastive terms: --cfg-options model.cds_loss.supervised=False
# Its baseline, CE on the same labelled 10% alone:
# configs/ce/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py (docs/results.md).
_base_ = ['./resnet18-w16_1xb64_cifar10-jpg.py',
          '../_base_/datasets/labelled_10pct.py']

train_dataloader = dict(
    dataset=dict(_base_.labelled_10pct, _delete_=True,
                 dataset=_base_.train_dataloader.dataset),
    batch_sampler=dict(type='SemiSupervisedBatchSampler', num_labelled=8))
