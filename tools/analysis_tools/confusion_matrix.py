# Confusion matrix of a checkpoint on the config's test set (or of the predictions
# `tools/test.py CONFIG CKPT --out preds.pkl` dumped): mmpretrain's
# tools/analysis_tools/confusion_matrix.py (same flags) after `import mmcds`, e.g.
#   python tools/analysis_tools/confusion_matrix.py \
#       configs/cds/resnet18-w16_1xb64_cifar10-jpg.py CKPT --show-path cm.png
# A predictions .pkl is read without running code from the pickle (mmpretrain's tool
# reads it with mmengine.load, a plain pickle.load, which is replaced while it runs).
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool
from mmcds.utils.safe_pickle import safe_pickle_loading


def main(argv=None):
    with safe_pickle_loading():
        run_mmpretrain_tool('analysis_tools/confusion_matrix.py', argv)


if __name__ == '__main__':
    main()
