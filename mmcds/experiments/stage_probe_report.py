"""The outputs of the stage probe: ``probe_accuracy.png``, ``tsne.png`` and
``stage_probe.md`` (a table per model and stage, and over the models of one name, e.g.
one checkpoint per seed, their mean ± sd and paired differences with 95% t intervals).

Behind :func:`mmcds.experiments.stage_probe.run_stage_probe`, which measures; this
module only draws and writes what it measured.
"""
from typing import Dict, List, Sequence

import numpy as np

from .report import group_by, markdown_table


def by_name(results: Sequence[dict]) -> Dict[str, List[dict]]:
    """``{name: [results]}`` in first-seen order: the models given one name (e.g.
    one checkpoint per seed)."""
    return group_by(results, 'name')


def plot_probe_accuracy(results: Sequence[dict], path: str) -> str:
    """Probe top-1 against stage, a line per model name (a model: its standard
    error; a name given several times: mean ± sd over them), the classifier's own
    top-1 as a dotted line; saves PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.6), dpi=110)
    ax = fig.subplots()
    groups = by_name(results)
    for index, (name, group) in enumerate(groups.items()):
        color = f'C{index % 10}'
        stages = np.arange(1, min(len(r['probe']) for r in group) + 1)
        top1 = np.array([[p['top1'] for p in r['probe'][:len(stages)]]
                         for r in group])
        # One model: its binomial standard error; several (seeds): their sd.
        spread = np.array([p['se'] for p in group[0]['probe'][:len(stages)]]) \
            if len(group) == 1 else top1.std(0, ddof=1)
        ax.errorbar(stages, top1.mean(0), yerr=spread, color=color, marker='o',
                    capsize=3, label=name if len(group) == 1 else
                    f'{name} (mean ± sd of {len(group)})')
        reference = [r['classifier_top1'] for r in group]
        if None not in reference:
            ax.axhline(float(np.mean(reference)), color=color, linestyle=':',
                       linewidth=1)
    ax.set_xlabel('backbone stage')
    ax.set_ylabel('linear-probe top-1 on test (%)')
    ax.set_xticks(np.arange(1, max(len(r['probe']) for r in results) + 1))
    ax.set_title("dotted: the classifier's own top-1", fontsize=8)
    ax.grid(alpha=.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_tsne_grid(embeddings: Dict[str, List[np.ndarray]], labels: np.ndarray,
                   classes: Sequence[str], path: str) -> str:
    """A grid of t-SNE scatters: a row per model, a column per stage, coloured by
    class; saves PNG."""
    from matplotlib.figure import Figure

    rows = len(embeddings)
    cols = max(len(e) for e in embeddings.values())
    fig = Figure(figsize=(2.4 * cols, 2.4 * rows + .6), dpi=110)
    axes = np.array(fig.subplots(rows, cols, squeeze=False))
    cmap = 'tab10' if len(classes) <= 10 else 'tab20' if len(classes) <= 20 \
        else 'viridis'
    scatter = None
    for row, (name, stages) in enumerate(embeddings.items()):
        for col in range(cols):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(stages):
                ax.axis('off')
                continue
            points = stages[col]
            scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, s=3,
                                 cmap=cmap, vmin=0, vmax=max(len(classes) - 1, 1))
            if row == 0:
                ax.set_title(f'stage {col + 1}', fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=9)
    if scatter is not None and len(classes) <= 20:
        handles = scatter.legend_elements(num=list(range(len(classes))))[0]
        fig.legend(handles, classes, loc='lower center', ncol=min(len(classes), 10),
                   fontsize=7, markerscale=.8)
        fig.tight_layout(rect=(0, .6 / (2.4 * rows + .6), 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path)
    return path


def markdown_report(report: dict) -> str:
    """``stage_probe.md``: the table (model x stage) with command, date and machine."""
    results = report['models']
    cols = max(len(r['probe']) for r in results)
    header = ['model'] + [f'stage {k + 1}' for k in range(cols)] + ['classifier']
    rows = []
    for r in results:
        cells = [f"{p['top1']:.1f} ± {p['se']:.1f}"
                 + ('' if p['converged'] else ' (not converged)') for p in r['probe']]
        cells += ['–'] * (cols - len(cells))
        reference = 'n/a' if r['classifier_top1'] is None else \
            f"{r['classifier_top1']:.1f}"
        rows.append([r['name']] + cells + [reference])
    data, probe = report['data'], report['probe']
    lines = [
        '# Linear probe per backbone stage', '',
        f"Command: `{report['command']}`  ",
        f"Date (UTC): {report['date_utc']}  ",
        f"Machine: {report['machine']}  ",
        f"Data: {data['root']} ({data['train_images']} {data['train_prefix']} / "
        f"{data['test_images']} {data['test_prefix']} images, spread over "
        f"{len(data['classes'])} classes)", '',
        'Test top-1 (%) of a logistic regression (scikit-learn, C = '
        f"{probe['c']}, max_iter {probe['max_iter']}, standardised features) fitted "
        'on the globally average-pooled output of each stage of the train split; '
        '± is the binomial standard error over the test images. "classifier": '
        "the model's own head on the test split.", '',
        markdown_table(header, rows), '']
    for r in results:
        lines.append(f"- {r['name']}: `{r['config']}`, `{r['checkpoint']}`; feature "
                     f"dims {r['stage_dims']}; head on stage {r['head_stage']}"
                     + ''.join(f'; {n}' for n in r['notes']))
    lines += group_summary(results)
    lines += ['', f"Total {report['seconds']:.0f} s.", '']
    return '\n'.join(lines)


def group_summary(results: Sequence[dict]) -> List[str]:
    """Markdown for names given more than once (e.g. one checkpoint per seed).

    Per name: mean ± sd over its models of every stage's probe top-1 and of the
    classifier's; per other name: the paired difference to the first name (the
    k-th model of each name paired, e.g. the same seed), with a 95% t interval.
    Empty when every name is given once."""
    from .statistics import mean_sd, paired_difference

    groups = by_name(results)
    if all(len(g) == 1 for g in groups.values()):
        return []
    stages = min(len(r['probe']) for r in results)

    def column(group, stage):  # stage None: the classifier's own top-1
        return [r['classifier_top1'] if stage is None else r['probe'][stage]['top1']
                for r in group]

    columns = list(range(stages)) + [None]
    header = ['model', 'n'] + [f'stage {k + 1}' for k in range(stages)] + \
        ['classifier']
    rows = []
    for name, group in groups.items():
        cells = []
        for stage in columns:
            values = column(group, stage)
            if any(v is None for v in values):
                cells.append('n/a')
                continue
            stats = mean_sd(values)
            cells.append(f"{stats['mean']:.2f} ± {stats['sd']:.2f}")
        rows.append([name, str(len(group))] + cells)
    names = list(groups)
    base = groups[names[0]]
    for name in names[1:]:
        group, cells = groups[name], []
        for stage in columns:
            a, b = column(group, stage), column(base, stage)
            if any(v is None for v in a + b):
                cells.append('n/a')
                continue
            diff = paired_difference(dict(enumerate(a)), dict(enumerate(b)))
            cells.append(f"{diff['mean']:+.2f}" if diff['n'] < 2 else
                         f"{diff['mean']:+.2f} [{diff['low']:+.2f}, {diff['high']:+.2f}]")
        rows.append([f'{name} − {names[0]}', str(min(len(group), len(base)))] + cells)
    return ['', f'Over the models of one name (mean ± sd; the k-th models of two names '
            f'paired, e.g. by seed; differences to {names[0]} with a 95% t interval):',
            '', markdown_table(header, rows)]
