# CDS with the unsupervised intermediate loss: SimCLR's NT-Xent on every stage
# (positives are only the two views of the same image), labels used by the CE head only.
_base_ = './resnet50_8xb32_in1k.py'

model = dict(cds_loss=dict(supervised=False))
