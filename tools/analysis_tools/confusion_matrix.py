# Confusion matrix of a checkpoint on the config's test set (or of the predictions
# `tools/test.py CONFIG CKPT --out preds.pkl` dumped): mmpretrain's
# tools/analysis_tools/confusion_matrix.py (same flags) after `import mmcds`, e.g.
#   python tools/analysis_tools/confusion_matrix.py \
#       configs/cds/resnet18-w16_1xb64_cifar10-jpg.py CKPT --show-path cm.png
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('analysis_tools/confusion_matrix.py')
