"""The demo's results table (markdown) and plots (PNG)."""
import json
import os.path as osp
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')  # no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mmcds.experiments.report import (machine_description,  # noqa: E402
                                      markdown_table, plot_reliability_grid,
                                      utc_now)


# The table's columns, left to right, and the names they go by in it.
METHODS = (('CE', 'cross-entropy'), ('CDS', 'CDS'))


def results_table(results: Dict) -> str:
    """The demo's side-by-side markdown table.

    One row per measure (classifier top-1, ECE, Faster R-CNN bbox mAP and mAP@0.5
    from that classifier's backbone, training times), one column per method and
    their difference ``CDS - CE``; the whole demo's wall time on a line below."""
    classifiers, detection = results['classifiers'], results['detection']
    timings = results['timings']
    measures = [
        ('classifier top-1 (%)', '.2f', lambda m: classifiers[m]['top1']),
        ('classifier expected calibration error (%, 15 bins)', '.2f',
         lambda m: classifiers[m]['ece']),
        ("Faster R-CNN from the classifier's backbone, COCO bbox mAP (%)", '.1f',
         lambda m: detection[m]['mAP']),
        ("Faster R-CNN from the classifier's backbone, COCO bbox mAP@0.5 (%)", '.1f',
         lambda m: detection[m]['mAP_50']),
        ('time: train the classifier (s)', '.0f',
         lambda m: timings[f'train {m} classifier']),
        ('time: fine-tune Faster R-CNN (s)', '.0f',
         lambda m: timings[f'fine-tune Faster R-CNN from the {m} backbone']),
    ]
    rows = []
    for name, fmt, value in measures:
        ce, cds = value('CE'), value('CDS')
        rows.append((name, f'{ce:{fmt}}', f'{cds:{fmt}}', f'{cds - ce:+{fmt}}'))
    header = ['result'] + [name for _, name in METHODS] + ['CDS - CE']
    return (markdown_table(header, rows, align='lrrr') +
            f"\n\ntime: total (s): {timings['total']:.0f}")


def _smooth(values: List[float], window: int = 10) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode='valid')


def plot_training_curves(results: Dict, path: str) -> None:
    """The CE and CDS loss curves and both detectors' losses, as a PNG."""
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
    for method, name in METHODS:
        axes[2].plot(_smooth(results['detection'][method]['history']['loss']),
                     label=f'from the {name} backbone')
    axes[2].set(title='Faster R-CNN total loss', xlabel='iteration')
    axes[2].legend()
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


def plot_reliability(results: Dict, path: str) -> None:
    """Reliability diagrams of the CE and CDS classifiers side by side, as a PNG.

    Drawn from the per-sample test confidences and correctness that the
    ``ExpectedCalibrationError`` metric kept, with its 15 bins."""
    plot_reliability_grid(
        {name: (results['classifiers'][method]['calibration']['confidences'],
                results['classifiers'][method]['calibration']['correct'])
         for method, name in METHODS}, num_bins=15, path=path)


def write_report(results: Dict, work_dir: str) -> str:
    """Write results.md, results.json and the plots; print and return the table."""
    table = results_table(results)
    settings = results['settings']
    header = (f"mmcds demo, {utc_now()} UTC, {machine_description()}\n\n"
              f"classification data: {settings['cls_data']} "
              f"({settings['cls_epochs']} epochs); detection data: {settings['det_data']} "
              f"({settings['det_epochs']} epochs, scale {settings['det_scale']}); "
              f"seed {settings['seed']} for all four runs; both detectors share schedule, "
              f"seed and data (one seed: the CDS - CE column carries no error bar)\n")
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(header + '\n' + table + '\n')
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    plot_training_curves(results, osp.join(work_dir, 'training_curves.png'))
    plot_per_class_accuracy(results, osp.join(work_dir, 'per_class_accuracy.png'))
    plot_reliability(results, osp.join(work_dir, 'reliability.png'))
    print('\n' + header + '\n' + table + '\n')
    print(f'table: {work_dir}/results.md, all numbers: {work_dir}/results.json')
    print('plots: ' + ', '.join(
        osp.join(work_dir, name) for name in ('training_curves.png',
                                               'per_class_accuracy.png',
                                               'reliability.png')))
    return table
