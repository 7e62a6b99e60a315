"""The demo's results table (markdown) and plots (PNG)."""
import json
import os.path as osp
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')  # no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mmcds.experiments.report import (machine_description,  # noqa: E402
                                      markdown_table, utc_now)


def results_table(results: Dict) -> str:
    """The demo's markdown table: accuracy, calibration, detection mAP, timings."""
    ce, cds = results['classifiers']['CE'], results['classifiers']['CDS']
    det, timings = results['detection'], results['timings']
    rows = [
        ('classifier top-1 (%), cross-entropy', f"{ce['top1']:.2f}"),
        ('classifier top-1 (%), CDS', f"{cds['top1']:.2f}"),
        ('CDS - CE (points)', f"{cds['top1'] - ce['top1']:+.2f}"),
        ('expected calibration error (%, 15 bins), cross-entropy', f"{ce['ece']:.2f}"),
        ('expected calibration error (%, 15 bins), CDS', f"{cds['ece']:.2f}"),
        ('Faster R-CNN from the CDS backbone, COCO bbox mAP (%)', f"{det['mAP']:.1f}"),
        ('Faster R-CNN from the CDS backbone, COCO bbox mAP@0.5 (%)', f"{det['mAP_50']:.1f}"),
    ]
    rows += [(f'time: {step} (s)', f'{seconds:.0f}') for step, seconds in timings.items()]
    return markdown_table(['result', 'value'], rows, align='ll')


def _smooth(values: List[float], window: int = 10) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode='valid')


def plot_training_curves(results: Dict, path: str) -> None:
    """The CE and CDS loss curves and the detector's loss, as a PNG."""
    ce, cds = results['classifiers']['CE'], results['classifiers']['CDS']
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(_smooth(ce['history']['loss']), label='CE model')
    axes[0].plot(_smooth(cds['history']['loss']), label='CDS model (CE on view 1)')
    axes[0].set(title='classification cross-entropy', xlabel='iteration')
    axes[0].legend()
    for stage in range(1, 5):
        values = cds['history'].get(f'loss_cds_stage{stage}', [])
        if values:
            axes[1].plot(_smooth(values), label=f'stage {stage}')
    axes[1].set(title='CDS: lambda * SupCon per stage', xlabel='iteration')
    axes[1].legend()
    axes[2].plot(_smooth(results['detection']['history']['loss']))
    axes[2].set(title='Faster R-CNN total loss (CDS backbone)', xlabel='iteration')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_per_class_accuracy(results: Dict, path: str) -> None:
    """Per-class test accuracy of the CE and CDS classifiers, as a PNG."""
    ce, cds = results['classifiers']['CE'], results['classifiers']['CDS']
    positions = np.arange(len(ce['classes']))
    fig, ax = plt.subplots(figsize=(max(6, len(positions) * 0.6), 4))
    ax.bar(positions - 0.2, ce['per_class'], width=0.4, label=f"CE ({ce['top1']:.1f}%)")
    ax.bar(positions + 0.2, cds['per_class'], width=0.4,
           label=f"CDS ({cds['top1']:.1f}%)")
    ax.set_xticks(positions, ce['classes'], rotation=45 if len(positions) > 12 else 0)
    ax.set(ylabel='test accuracy (%)', title='per-class accuracy',
           ylim=(max(0, min(ce['per_class'] + cds['per_class']) - 10), 100))
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(results: Dict, work_dir: str) -> str:
    """Write results.md, results.json and the plots; print and return the table."""
    table = results_table(results)
    settings = results['settings']
    header = (f"mmcds demo, {utc_now()} UTC, {machine_description()}\n\n"
              f"classification data: {settings['cls_data']} "
              f"({settings['cls_epochs']} epochs); detection data: {settings['det_data']} "
              f"({settings['det_epochs']} epochs, scale {settings['det_scale']}); "
              f"seed {settings['seed']}\n")
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(header + '\n' + table + '\n')
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    plot_training_curves(results, osp.join(work_dir, 'training_curves.png'))
    plot_per_class_accuracy(results, osp.join(work_dir, 'per_class_accuracy.png'))
    print('\n' + header + '\n' + table + '\n')
    print(f'plots: {work_dir}/training_curves.png, {work_dir}/per_class_accuracy.png')
    return table
