"""An epoch sweep of a method comparison: the paired differences against training
length (``tools/compare_methods.py --epochs 6 12 20``)."""
import copy
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from .comparison import command_line, run_comparison
from .comparison_report import (BEST, _mean_sd_text, _measured_by_all, _ok, _p_text,
                                by_method, compare_pairs, comparison_pairs)
from .report import machine_description, markdown_table


def sweep_dir(work_dir: str, epochs: int) -> str:
    """Where an epoch sweep puts the comparison of ``epochs`` epochs."""
    return osp.join(work_dir, f'e{epochs}')


def run_sweep(args, argv: List[str], script: str) -> int:
    """One comparison per epoch count of ``args.epoch_counts``, then the gaps.

    Each count trains every (method, seed) from scratch with the schedule stretched
    over it (a 6-epoch run is not the first 6 epochs of a 20-epoch one: the cosine
    schedule differs), into ``<work-dir>/e<N>/``; ``<work-dir>/sweep.md`` and
    ``sweep.png`` show each compared pair's paired difference against the epoch
    count. Returns 1 if a run failed, else 0."""
    failed = 0
    results_of = {}
    for epochs in args.epoch_counts:
        sub = copy.copy(args)
        sub.epochs, sub.epoch_counts = epochs, [epochs]
        sub.work_dir = sweep_dir(args.work_dir, epochs)
        print(f'[compare] sweep: {epochs} epochs into {sub.work_dir}', flush=True)
        failed |= run_comparison(sub, argv, script)
        results_of[epochs] = sub.results
    print(write_sweep_report(args, results_of, command_line(script, argv)))
    if not args.no_plot:
        print(f'[compare] wrote {plot_sweep(args, results_of)}')
    return failed


def sweep_rows(results_of: Dict[int, List[dict]],
               head_to_head: Sequence[Tuple[str, str]] = ()) -> List[dict]:
    """Every compared pair's top-1 difference (final and best epoch) per epoch count.

    One dict per (epochs, pair, metric key) from :func:`compare_pairs` of that
    epoch count's results, with ``epochs`` and ``key`` added."""
    rows = []
    for epochs, results in sorted(results_of.items()):
        pairs = comparison_pairs(results, head_to_head)
        for key in ['top1'] + [k for k, _, _ in _measured_by_all(results, BEST[:1])]:
            rows += [dict(row, epochs=epochs, key=key)
                     for row in compare_pairs(results, key, pairs)]
    return rows


def method_names(results_of: Dict[int, List[dict]]) -> Dict[str, str]:
    """``{method: display name}`` over the sweep's successful runs."""
    return {r['method']: r['name'] for results in results_of.values()
            for r in _ok(results)}


def write_sweep_report(args, results_of: Dict[int, List[dict]], command: str) -> str:
    """Write ``sweep.md``: each pair's top-1 difference against the epoch count."""
    head_to_head = getattr(args, 'head_to_head', None) or ()
    names = method_names(results_of)
    table = []
    for row in sweep_rows(results_of, head_to_head):
        interval = (f'[{row["low"]:+.2f}, {row["high"]:+.2f}]' if row['n'] >= 2
                    else 'one seed')
        table.append([
            str(row['epochs']), f'{names[row["method"]]} − {names[row["reference"]]}',
            'final' if row['key'] == 'top1' else 'best epoch', str(row['n']),
            f'{row["mean"]:+.2f}', interval, _p_text(row['p_holm'])])
    means = []
    for epochs, results in sorted(results_of.items()):
        for method, runs in by_method(results).items():
            means.append([str(epochs), runs[0]['name'], str(len(runs)),
                          _mean_sd_text([r['top1'] for r in runs], 2),
                          _mean_sd_text([r['best_top1'] for r in runs], 2)
                          if all('best_top1' in r for r in runs) else ''])
    lines = [
        '# Differences against training length', '',
        f'- Command: `{command}`', f'- Machine: {machine_description()}',
        f'- Epoch counts: {" ".join(map(str, sorted(results_of)))}; each trains from '
        'scratch with the cosine schedule stretched over it; the per-count reports are '
        'in `e<N>/results.md`', '',
        '## Top-1 per method (mean ± sd over seeds)', '',
        markdown_table(['Epochs', 'Method', 'Seeds', 'Final top-1 (%)',
                        'Best-epoch top-1 (%)'], means), '',
        '## Paired top-1 differences', '',
        markdown_table(['Epochs', 'Comparison', 'Top-1', 'Seeds', 'Δ (mean)', '95% CI',
                        'Holm p'], table, align='llrrrrr'), '',
        'Holm p: adjusted over the comparisons of that epoch count and metric (see '
        'its `e<N>/results.md`).',
    ]
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.work_dir, 'sweep.md'), 'w') as f:
        f.write(text)
    return text


def plot_sweep(args, results_of: Dict[int, List[dict]]) -> str:
    """``sweep.png``: each pair's mean top-1 difference (95% interval as error bars)
    against the epoch count, final epoch and best epoch side by side."""
    from matplotlib.figure import Figure

    rows = sweep_rows(results_of, getattr(args, 'head_to_head', None) or ())
    names = method_names(results_of)
    keys = [key for key in ('top1', 'best_top1') if any(r['key'] == key for r in rows)]
    fig = Figure(figsize=(4.2 * len(keys), 3.4), dpi=110)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for pair in dict.fromkeys((r['method'], r['reference']) for r in rows):
            points = [r for r in rows if r['key'] == key and
                      (r['method'], r['reference']) == pair]
            errors = [r['half_width'] if r['n'] >= 2 else 0 for r in points]
            ax.errorbar([r['epochs'] for r in points], [r['mean'] for r in points],
                        yerr=errors, marker='o', capsize=3,
                        label=f'{names[pair[0]]} − {names[pair[1]]}')
        ax.axhline(0, color='grey', linewidth=0.8)
        ax.set_xlabel('epochs')
        ax.set_ylabel('top-1 difference (points), 95% CI')
        ax.set_title('final epoch' if key == 'top1' else 'best epoch', fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = osp.join(args.work_dir, 'sweep.png')
    fig.savefig(path)
    return path


__all__ = ['plot_sweep', 'run_sweep', 'sweep_dir', 'sweep_rows', 'write_sweep_report']
