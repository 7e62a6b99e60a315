# Images of a config's data set as its pipeline delivers them: mmpretrain's
# tools/visualization/browse_dataset.py (same flags) after `import mmcds`, e.g.
#   python tools/visualization/browse_dataset.py configs/cds/resnet18-w16_1xb64_cifar10-jpg.py \
#       --output-dir browse --show-number 8 --mode pipeline --not-show
# The two views of a CDS config show one above the other (MultiView).
from mmcds.utils.mmpretrain_tools import (adjust_bbox_taking_no_renderer,
                                          run_mmpretrain_tool, visualizer_without_scope)

if __name__ == '__main__':
    with visualizer_without_scope(), adjust_bbox_taking_no_renderer():
        run_mmpretrain_tool('visualization/browse_dataset.py')
