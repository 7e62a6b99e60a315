# Curves and training time from the JSON logs of a run (work_dirs/<config>/<time>/
# vis_data/<time>.json): mmpretrain's tools/analysis_tools/analyze_logs.py (same flags),
# e.g. the per-stage CDS losses:
#   python tools/analysis_tools/analyze_logs.py plot_curve LOG.json \
#       --keys loss loss_cds_stage1 loss_cds_stage2 loss_cds_stage3 loss_cds_stage4 \
#       --out losses.png
#   python tools/analysis_tools/analyze_logs.py cal_train_time LOG.json
from mmcds.utils.mmpretrain_tools import run_mmpretrain_tool

if __name__ == '__main__':
    run_mmpretrain_tool('analysis_tools/analyze_logs.py')
