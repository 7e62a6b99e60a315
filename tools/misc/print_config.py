# The whole config as mmengine merges it (bases, `mmcds::`/`mmpretrain::` ones included,
# and --cfg-options): mmpretrain's tools/misc/print_config.py (same flags) after
# `import mmcds`, e.g.
#   python tools/misc/print_config.py configs/cds/resnet50_8xb32_in1k.py
#   python tools/misc/print_config.py my_project/my_cds.py   # _base_ = 'mmcds::...'
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('misc/print_config.py')
