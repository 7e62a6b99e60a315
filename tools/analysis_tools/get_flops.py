# FLOPs and parameters of a config's model at inference: mmpretrain's
# tools/analysis_tools/get_flops.py (same flags) after `import mmcds`, e.g.
#   python tools/analysis_tools/get_flops.py configs/cds/resnet50_8xb32_in1k.py
# The FLOPs are those of what inference runs (backbone, neck, head input), the same as
# the plain ResNet's: the projection heads and exits are not run. "Params" counts every
# parameter of the model, training-only heads included.
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('analysis_tools/get_flops.py')
