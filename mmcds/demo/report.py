"""The demo's results table (markdown) and plots (PNG), over seeds."""
import json
import os.path as osp
from typing import Callable, Dict, List, Sequence

import matplotlib

matplotlib.use('Agg')  # no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mmcds.experiments.report import (machine_description,  # noqa: E402
                                      markdown_table, plot_reliability_grid,
                                      utc_now)
from mmcds.experiments.statistics import mean_sd  # noqa: E402

# The table's columns, left to right, and the names they go by in it.
METHODS = (('CE', 'cross-entropy'), ('CDS', 'CDS'))

# One row per measure: (name, format, value of one method in one seed's run).
MEASURES = (
    ('classifier top-1 (%)', '.2f', lambda run, m: run['classifiers'][m]['top1']),
    ('classifier expected calibration error (%, 15 bins)', '.2f',
     lambda run, m: run['classifiers'][m]['ece']),
    ("Faster R-CNN from the classifier's backbone, COCO bbox mAP (%)", '.1f',
     lambda run, m: run['detection'][m]['mAP']),
    ("Faster R-CNN from the classifier's backbone, COCO bbox mAP@0.5 (%)", '.1f',
     lambda run, m: run['detection'][m]['mAP_50']),
    ('time: train the classifier (s)', '.0f',
     lambda run, m: run['classifiers'][m]['train_seconds']),
    ('time: fine-tune Faster R-CNN (s)', '.0f',
     lambda run, m: run['detection'][m]['train_seconds']),
)

SPREAD_NOTE = (
    'mean ± sd: mean and sample standard deviation over the seeds; CDS - CE is the '
    'mean ± sd of the per-seed differences (each seed gives both methods the same '
    'data, initial backbone weights and data order), listed in the last column. The '
    'sd is how much a result moves from one seed to the next: a difference smaller '
    'than about its sd, or whose per-seed signs disagree, is noise of the seed, not '
    'an effect of CDS. (More seeds on a harder set, with 95% intervals: '
    'docs/results.md.)')


def _mean_sd(values: Sequence[float], fmt: str, sign: str = '') -> str:
    summary = mean_sd(values)
    if summary['n'] == 1:
        return f"{summary['mean']:{sign}{fmt}}"
    return f"{summary['mean']:{sign}{fmt}} ± {summary['sd']:{fmt}}"


def results_table(results: Dict) -> str:
    """The demo's markdown table over seeds.

    One row per measure (classifier top-1, ECE, Faster R-CNN bbox mAP and mAP@0.5
    from that classifier's backbone, training times); columns: each method's mean ±
    sd over the seeds, the mean ± sd of the per-seed differences ``CDS - CE``, and
    those differences seed by seed. The demo's wall time on a line below."""
    runs = results['runs']
    rows = []
    for name, fmt, value in MEASURES:
        columns = [_mean_sd([value(run, method) for run in runs], fmt)
                   for method, _ in METHODS]
        differences = [value(run, 'CDS') - value(run, 'CE') for run in runs]
        rows.append((name, *columns, _mean_sd(differences, fmt, sign='+'),
                     ', '.join(f'{d:+{fmt}}' for d in differences)))
    seeds = ', '.join(str(run['seed']) for run in runs)
    header = (['result'] + [name for _, name in METHODS] +
              ['CDS - CE', f'CDS - CE per seed ({seeds})'])
    return (markdown_table(header, rows, align='lrrrr') +
            f"\n\ntime: total (s): {results['wall_seconds']:.0f}")


def _smooth(values: List[float], window: int = 10) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode='valid')


def plot_training_curves(results: Dict, path: str) -> None:
    """The CE and CDS loss curves and both detectors' losses of the first seed."""
    run = results['runs'][0]
    ce, cds = run['classifiers']['CE'], run['classifiers']['CDS']
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(_smooth(ce['history']['loss']), label='CE model')
    axes[0].plot(_smooth(cds['history']['loss']), label='CDS model (CE on view 1)')
    axes[0].set(title=f"classification cross-entropy (seed {run['seed']})",
                xlabel='iteration')
    axes[0].legend()
    for stage in range(1, 5):
        values = cds['history'].get(f'loss_cds_stage{stage}', [])
        if values:
            axes[1].plot(_smooth(values), label=f'stage {stage}')
    axes[1].set(title=f"CDS: lambda * SupCon per stage (seed {run['seed']})",
                xlabel='iteration')
    axes[1].legend()
    for method, name in METHODS:
        axes[2].plot(_smooth(run['detection'][method]['history']['loss']),
                     label=f'from the {name} backbone')
    axes[2].set(title=f"Faster R-CNN total loss (seed {run['seed']})",
                xlabel='iteration')
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _per_class(results: Dict, method: str) -> np.ndarray:
    """(seeds, classes) per-class test accuracy (%) of ``method``."""
    return np.array([run['classifiers'][method]['per_class'] for run in results['runs']])


def plot_per_class_accuracy(results: Dict, path: str) -> None:
    """Per-class test accuracy of both classifiers and its CDS - CE difference.

    Left: each method's per-class accuracy, mean over the seeds with the sd as error
    bar, on an axis from 0 to 100%. Right: the per-seed differences CDS - CE per
    class, mean ± sd, on an axis around 0."""
    classes = results['runs'][0]['classifiers']['CE']['classes']
    accuracy = {method: _per_class(results, method) for method, _ in METHODS}
    seeds = len(results['runs'])
    positions = np.arange(len(classes))
    fig, (ax, diff_ax) = plt.subplots(
        1, 2, figsize=(2 * max(6, len(positions) * 0.6), 4))
    for offset, (method, name) in zip((-0.2, 0.2), METHODS):
        values = accuracy[method]
        mean_top1 = np.mean([run['classifiers'][method]['top1']
                             for run in results['runs']])
        ax.bar(positions + offset, values.mean(0), width=0.4,
               yerr=values.std(0, ddof=1) if seeds > 1 else None, capsize=2,
               label=f'{name} ({mean_top1:.1f}%)')
    rotation = 45 if len(positions) > 12 else 0
    ax.set_xticks(positions, classes, rotation=rotation)
    ax.set(ylabel='test accuracy (%)', ylim=(0, 100),
           title=f'per-class accuracy, mean ± sd over {seeds} seed(s)')
    ax.legend(loc='upper center', bbox_to_anchor=(0.5, -0.1), ncol=2)
    difference = accuracy['CDS'] - accuracy['CE']
    spread = difference.std(0, ddof=1) if seeds > 1 else np.zeros(len(classes))
    diff_ax.bar(positions, difference.mean(0), width=0.6, color='tab:gray',
                yerr=spread if seeds > 1 else None, capsize=2)
    diff_ax.axhline(0, color='black', linewidth=0.8)
    limit = 1.2 * max(1.0, float(np.abs(difference).max()),
                      float((np.abs(difference.mean(0)) + spread).max()))
    diff_ax.set_ylim(-limit, limit)
    diff_ax.set_xticks(positions, classes, rotation=rotation)
    diff_ax.set(ylabel='CDS - CE (accuracy points)',
                title='per-class difference CDS - CE, mean ± sd over seeds')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pooled_calibration(results: Dict, method: str) -> tuple:
    """(confidences, correct) of ``method``'s test predictions, all seeds pooled."""
    samples = [run['classifiers'][method]['calibration'] for run in results['runs']]
    return (np.concatenate([s['confidences'] for s in samples]),
            np.concatenate([s['correct'] for s in samples]))


def plot_reliability(results: Dict, path: str) -> None:
    """Reliability diagrams of the CE and CDS classifiers side by side, as a PNG.

    Drawn from the per-sample test confidences and correctness that the
    ``ExpectedCalibrationError`` metric kept, all seeds pooled, with its 15 bins."""
    seeds = len(results['runs'])
    plot_reliability_grid(
        {f'{name} ({seeds} seed(s) pooled)': pooled_calibration(results, method)
         for method, name in METHODS}, num_bins=15, path=path)


PLOTS: Dict[str, Callable[[Dict, str], None]] = {
    'training_curves.png': plot_training_curves,
    'per_class_accuracy.png': plot_per_class_accuracy,
    'reliability.png': plot_reliability,
}


def write_report(results: Dict, work_dir: str) -> str:
    """Write results.md, results.json and the plots; print and return the table."""
    table = results_table(results)
    settings = results['settings']
    seeds = ', '.join(str(seed) for seed in settings['seeds'])
    varies = ('the train/test split of the digits, the canvases, '
              if settings['cls_data'] == 'digits' else '')
    header = (f"mmcds demo, {utc_now()} UTC, {machine_description()}; "
              f"{settings['jobs']} run(s) at a time, {settings['threads']} torch "
              f"thread(s) each\n\n"
              f"classification data: {settings['cls_data']} "
              f"({settings['cls_epochs']} epochs); detection data: "
              f"{settings['det_data']} ({settings['det_epochs']} epochs, scale "
              f"{settings['det_scale']}); seeds {seeds}: each seed draws {varies}the "
              f"initial weights and the data order of its four runs; both detectors of "
              f"a seed share schedule, seed and data\n")
    text = header + '\n' + table + '\n\n' + SPREAD_NOTE + '\n'
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    for name, plot in PLOTS.items():
        plot(results, osp.join(work_dir, name))
    print('\n' + text)
    print(f'table: {work_dir}/results.md, all numbers: {work_dir}/results.json')
    print('plots: ' + ', '.join(osp.join(work_dir, name) for name in PLOTS))
    return table
