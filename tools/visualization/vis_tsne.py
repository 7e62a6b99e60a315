# t-SNE of a checkpoint's features on the config's test set: mmpretrain's
# tools/visualization/vis_tsne.py (same flags) after `import mmcds`. Every backbone
# stage (feat_0 .. feat_3 for the four ResNet stages our classifiers output):
#   python tools/visualization/vis_tsne.py configs/cds/resnet18-w16_1xb64_cifar10-jpg.py \
#       --checkpoint CKPT --vis-stage backbone --max-num-samples 50
# For a plain (CE) config add --cfg-options "model.backbone.out_indices=(0,1,2,3)".
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool, tsne_taking_n_iter

if __name__ == '__main__':
    with tsne_taking_n_iter():
        run_mmpretrain_tool('visualization/vis_tsne.py')
