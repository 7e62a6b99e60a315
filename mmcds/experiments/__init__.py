"""The pieces the experiment drivers share.

For ``tools/compare_methods.py``, ``tools/analysis_tools/stage_probe.py``
(:mod:`.stage_probe`) and the demo in :mod:`mmcds.demo`: pointing a config at a data
set and an epoch count (:mod:`.config_edit`), a measured train-and-test run
(:mod:`.measured_run`), and the report: machine line, markdown tables, plots
(:mod:`.report`)."""
from .config_edit import (add_class_folder_args, class_counts, coco_categories,
                          insert_resize, set_epochs, spread_indices,
                          use_class_folders, use_coco)
from .measured_run import MeasureHook, measured_run, scalar_history
from .report import (machine_description, markdown_table, plot_bars,
                     plot_reliability_grid, utc_now)

__all__ = [
    'MeasureHook', 'add_class_folder_args', 'class_counts', 'coco_categories',
    'insert_resize',
    'machine_description', 'markdown_table', 'measured_run', 'plot_bars',
    'plot_reliability_grid', 'scalar_history', 'set_epochs', 'spread_indices',
    'use_class_folders', 'use_coco', 'utc_now'
]
