# Semi-supervised CDS on CIFAR-100 with 10% of the labels (the paper's semi-supervised
# setting): resnet18_1xb128_cifar100.py whose training set keeps the labels of 10% of
# every class's images (seed 0) and hides the others' (SemiSupervisedDataset). Each
# batch of 128 holds 16 labelled and 112 unlabelled images (1:7, FixMatch's ratio; the
# paper gives none), an epoch is one pass over the unlabelled images. Cross-entropy on
# the labelled images only; the contrastive terms on all of them, supervised among the
# labelled ones, view against view for the unlabelled ones.
# Positives of the contrastive terms, OUR READING: an unlabelled image's only positive
# is its own other view (NT-Xent for it), a labelled image's are every view of its class
# among the labelled images (SupCon); the paper describes its semi-supervised pairs as
# built by data augmentation alone. That literal reading, labels unused by the
# contrastive terms: --cfg-options model.cds_loss.supervised=False
# The CIFAR-100 set is one level down now:
#   --cfg-options train_dataloader.dataset.dataset.data_root=R
_base_ = ['./resnet18_1xb128_cifar100.py', '../_base_/datasets/labelled_10pct.py']

train_dataloader = dict(
    dataset=dict(_base_.labelled_10pct, _delete_=True,
                 dataset=_base_.train_dataloader.dataset),
    batch_sampler=dict(type='SemiSupervisedBatchSampler', num_labelled=16))
