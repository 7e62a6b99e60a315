"""The report side of an experiment: the machine line, markdown tables and plots."""
import datetime
import os
import platform
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DD HH:MM``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M')


def machine_description() -> str:
    """One line: cores and CPU model, OS, Python, torch, GPU (or 'no GPU')."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    text = (f'{os.cpu_count()} CPU cores ({cpu}), {platform.system()} '
            f'{platform.release()}, Python {platform.python_version()}')
    try:
        import torch
        text += f', torch {torch.__version__}'
        text += (f', GPU {torch.cuda.get_device_name(0)}'
                 if torch.cuda.is_available() else ', no GPU')
    except ImportError:
        pass
    return text


def group_by(items: Sequence[dict], key: str) -> Dict[Any, List[dict]]:
    """``{item[key]: [items]}``, groups and items in first-seen order."""
    groups: Dict[Any, List[dict]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    return groups


def markdown_table(header: Sequence[str], rows: Sequence[Sequence],
                   align: Optional[str] = None) -> str:
    """A markdown table from a header and rows.

    ``align`` has one character per column, 'l' or 'r' (default: the first column
    left, the others right)."""
    align = align or 'l' + 'r' * (len(header) - 1)
    rule = ['---' if a == 'l' else '---:' for a in align]
    lines = ['| ' + ' | '.join(str(h) for h in header) + ' |',
             '|' + '|'.join(rule) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def plot_bars(panels: Sequence[tuple], names: Sequence[str], path: str,
              title: str = '', curves: Optional[dict] = None) -> str:
    """Bar charts of per-method numbers, optionally with loss curves.

    One bar chart per ``(title, values)`` or ``(title, values, errors)`` panel over
    ``names`` (errors drawn as error bars, e.g. the sd over seeds) and, with
    ``curves`` (``{name: (steps, values)}``), a last panel of line plots; saves PNG."""
    from matplotlib.figure import Figure

    columns = len(panels) + (1 if curves else 0)
    fig = Figure(figsize=(3.2 * columns, 3.4), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, columns))
    colors = [f'C{i}' for i in range(len(names))]
    for ax, (panel_title, values, *errors) in zip(axes, panels):
        bars = ax.bar(names, values, color=colors, yerr=errors[0] if errors else None,
                      capsize=3)
        ax.bar_label(bars, fmt='%.2f' if max(values) < 100 else '%.0f', fontsize=7)
        ax.set_title(panel_title, fontsize=9)
        ax.tick_params(axis='x', labelsize=8, rotation=30)
    if curves:
        for (name, (steps, values)), color in zip(curves.items(), colors):
            if steps:
                axes[-1].plot(steps, values, color=color, label=name, linewidth=1)
        axes[-1].set_title('train CE of the main head', fontsize=9)
        axes[-1].set_xlabel('iteration', fontsize=8)
        axes[-1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_reliability_grid(samples: dict, num_bins: int, path: str) -> str:
    """Reliability diagrams side by side.

    One per entry of ``samples`` (``{name: (confidences, correct)}``); saves PNG."""
    from matplotlib.figure import Figure

    from mmcds.evaluation import plot_reliability_diagram

    fig = Figure(figsize=(3.3 * len(samples), 3.8), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, len(samples)))
    for ax, (name, (confidences, correct)) in zip(axes, samples.items()):
        plot_reliability_diagram(np.asarray(confidences), np.asarray(correct),
                                 num_bins=num_bins, title=name, ax=ax)
    fig.tight_layout()
    fig.savefig(path)
    return path


def read_loss_curve(log_dir: Optional[str], key: str = 'loss') -> tuple:
    """``(steps, values)`` of a scalar in a run's ``vis_data/scalars.json``."""
    import json
    import os.path as osp

    path = osp.join(log_dir or '', 'vis_data', 'scalars.json')
    steps: List[int] = []
    values: List[float] = []
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if key in record and 'step' in record:
                    steps.append(record['step'])
                    values.append(record[key])
    return steps, values
