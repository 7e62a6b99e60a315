# Cross-entropy fine-tuning on Stanford Cars (the "Base" column of the paper's Table 6):
# ResNet-50 from an ImageNet-1k checkpoint, the fine-grained data and schedule
# (_base_/schedules/fine_grained_bs64_100e.py). Paper numbers: configs/cds/README.md.
_base_ = ['../_base_/models/resnet50_in1k-pretrained.py',
          '../_base_/datasets/stanford-cars_bs8_448.py',
          '../_base_/schedules/fine_grained_bs64_100e.py',
          '../_base_/default_runtime.py']

model = dict(head=dict(num_classes=196))
