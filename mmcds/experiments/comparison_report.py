"""The report of a method comparison: tables over seeds, paired differences, plots."""
import os.path as osp
from typing import Dict, List

from .report import (group_by, machine_description, markdown_table, plot_bars,
                     plot_reliability_grid, read_loss_curve)
from .statistics import mean_sd, paired_difference

BASELINE = 'ce'
# (result key, table title, digits): what is compared against the baseline.
QUALITY = [('top1', 'Top-1 (%)', 2), ('ece', 'ECE (%)', 2), ('nll', 'NLL', 3),
           ('brier', 'Brier', 4)]
AFTER_SCALING = [('ece_ts', 'ECE after TS (%)', 2), ('nll_ts', 'NLL after TS', 3),
                 ('temperature', 'T', 2)]


def run_dir(work_dir: str, method: str, seed: int) -> str:
    """Where one (method, seed) run writes: ``<work_dir>/<method>/seed<seed>``."""
    return osp.join(work_dir, method, f'seed{seed}')


def _ok(results: List[dict]) -> List[dict]:
    return [r for r in results if 'error' not in r]


def by_method(results: List[dict]) -> Dict[str, List[dict]]:
    """The successful runs grouped by method, in the order they first appear."""
    return group_by(_ok(results), 'method')


def _mean_sd_text(values, digits: int) -> str:
    stats = mean_sd(values)
    if stats['n'] == 1:
        return f'{stats["mean"]:.{digits}f}'
    return f'{stats["mean"]:.{digits}f} ± {stats["sd"]:.{digits}f}'


def _difference_text(diff: dict, digits: int) -> str:
    if diff['n'] < 2:
        return f'{diff["mean"]:+.{digits}f} (1 seed, no interval)'
    return (f'{diff["mean"]:+.{digits}f} [{diff["low"]:+.{digits}f}, '
            f'{diff["high"]:+.{digits}f}]')


def paired_differences(results: List[dict], key: str) -> Dict[str, dict]:
    """``{method: paired_difference(method's key, baseline's key)}`` per method.

    Pairs by seed against CE's runs; empty without a successful CE run."""
    groups = by_method(results)
    if BASELINE not in groups:
        return {}
    baseline = {r['seed']: r[key] for r in groups[BASELINE] if key in r}
    return {method: paired_difference({r['seed']: r[key] for r in runs if key in r},
                                      baseline)
            for method, runs in groups.items()
            if method != BASELINE and any(r['seed'] in baseline for r in runs)}


def quality_table(results: List[dict]) -> str:
    """Mean ± sd over seeds of top-1, ECE, NLL, Brier (and after temperature
    scaling, when measured) per method, and top-1 / ECE differences to CE."""
    groups = by_method(results)
    scaled = all('temperature' in r for r in _ok(results))
    columns = QUALITY + (AFTER_SCALING if scaled else [])
    top1_diff = paired_differences(results, 'top1')
    ece_diff = paired_differences(results, 'ece')
    rows = []
    for method, runs in groups.items():
        row = [runs[0]['name'], str(len(runs))]
        row += [_mean_sd_text([r[key] for r in runs], digits)
                for key, _, digits in columns]
        row += [_difference_text(top1_diff[method], 2) if method in top1_diff else '',
                _difference_text(ece_diff[method], 2) if method in ece_diff else '']
        rows.append(row)
    rows += [[r['name'], f'seed {r.get("seed", "?")} failed: {r["error"]}']
             + [''] * (len(columns) + 2) for r in results if 'error' in r]
    header = (['Method', 'Seeds'] + [title for _, title, _ in columns] +
              ['Δ top-1 vs CE, 95% CI', 'Δ ECE vs CE, 95% CI'])
    return markdown_table(header, rows)


def cost_table(results: List[dict]) -> str:
    """What each method costs: FLOPs, parameters, train time and memory."""
    groups = by_method(results)
    cuda = any(r.get('device') == 'cuda' for r in _ok(results))
    base_time = (mean_sd([r['sec_per_image'] for r in groups[BASELINE]])['mean']
                 if BASELINE in groups else None)
    rows = []
    for method, runs in groups.items():
        first = runs[0]
        seconds = mean_sd([r['sec_per_image'] for r in runs])
        ratio = f' ({seconds["mean"] / base_time:.2f}x)' if base_time else ''
        memory = mean_sd([r['peak_cuda_mib'] if cuda else r['peak_rss_mib'] -
                          r['rss_train_start_mib'] for r in runs])['mean']
        rows.append([
            first['name'],
            f'{first["train_flops_per_image"] / 1e6:.1f}'
            if 'train_flops_per_image' in first else '?',
            f'{first["test_flops_per_image"] / 1e6:.1f}'
            if 'test_flops_per_image' in first else '?',
            f'{first["params_train"] / 1e6:.3f} / {first["params_test"] / 1e6:.3f}',
            f'{1000 * seconds["mean"]:.2f}{ratio}', f'{memory:.0f}',
            f'`{first["config"]}`'
        ])
    return markdown_table([
        'Method', 'Train MFLOPs / image', 'Inference MFLOPs / image',
        'Params train / test (M)', 'Train ms / image (x CE)',
        'Peak CUDA MiB' if cuda else 'RSS growth in training (MiB)', 'Config'
    ], rows, align='lrrrrrl')


def seed_table(results: List[dict]) -> str:
    """Top-1 / ECE of every run: a row per method, a column per seed."""
    groups = by_method(results)
    seeds = sorted({r['seed'] for runs in groups.values() for r in runs})
    rows = []
    for runs in groups.values():
        of_seed = {r['seed']: r for r in runs}
        rows.append([runs[0]['name']] + [
            f'{of_seed[s]["top1"]:.2f} / {of_seed[s]["ece"]:.2f}' if s in of_seed
            else '' for s in seeds
        ])
    return markdown_table(['Method'] + [f'seed {s}' for s in seeds], rows)


def difference_lines(results: List[dict]) -> List[str]:
    """One line per method and metric: the paired difference, its interval and the
    interval's width, with what it supports."""
    names = {method: runs[0]['name'] for method, runs in by_method(results).items()}
    lines = []
    # Top-1, ECE and NLL; after temperature scaling too where it was measured (a
    # calibration gain that survives scaling is more than a different temperature).
    keys = QUALITY[:3] + [item for item in AFTER_SCALING[:2]
                          if all(item[0] in r for r in _ok(results))]
    for key, title, digits in keys:
        for method, diff in paired_differences(results, key).items():
            name = names[method]
            if diff['n'] < 2:
                lines.append(f'- {name} − CE, {title}: {diff["mean"]:+.{digits}f} from '
                             'one seed: no interval')
                continue
            excludes_zero = diff['low'] > 0 or diff['high'] < 0
            lines.append(
                f'- {name} − CE, {title}: {diff["mean"]:+.{digits}f}, 95% CI '
                f'[{diff["low"]:+.{digits}f}, {diff["high"]:+.{digits}f}] (width '
                f'{2 * diff["half_width"]:.{digits}f}, {diff["n"]} paired seeds, sd of '
                f'the differences {diff["sd"]:.{digits}f}): '
                + ('excludes 0' if excludes_zero else 'includes 0, no difference shown'))
    return lines


def write_report(args, results: List[dict], command: str, started: str,
                 wall_seconds: float) -> str:
    """Write ``results.md``: command, date, machine, data, schedule and the tables."""
    ok = _ok(results)
    first = ok[0] if ok else {}
    holdout = getattr(args, 'calibration_holdout', None)
    lines = [
        '# Method comparison', '',
        f'- Command: `{command}`',
        f'- Date: {started} (UTC); total wall time {wall_seconds / 60:.1f} min',
        f'- Machine: {machine_description()}; {args.jobs} run(s) at a time, '
        f'{args.threads or "all"} torch thread(s) each',
        f'- Data: `{args.data_root_shown}` ({args.train_prefix}: '
        f'{first.get("train_size", "?")} training images'
        + (f' after holding out {holdout} for temperature scaling' if holdout else '')
        + f', {args.test_prefix}: {first.get("test_size", "?")} images, '
        f'{first.get("num_classes", "?")} classes)',
        f'- Schedule: {args.epochs} epochs, batch size '
        f'{first.get("batch_size", "?")}, {first.get("optimizer", "?")} with the '
        'configs\' cosine schedule stepped per iteration, no validation during '
        'training; metrics on the test split',
        f'- Seeds: {seed_summary(args)}; a seed fixes the initialisation and the data '
        'order of every method alike',
        f'- ECE / MCE: {args.num_bins} equal-width confidence bins, in %; NLL in nats; '
        'Brier summed over classes; lower is better for all four'
        + ('; "after TS": temperature scaling with T fitted (NLL) on the held-out '
           'training images' if holdout else ''),
        '', '## Accuracy and calibration (mean ± sd over seeds)', '',
        quality_table(results), '',
        'Δ: paired difference to CE over the seeds both ran (method − CE), mean and '
        '95% t interval.', '', *difference_lines(results), '',
        '## Cost', '', cost_table(results), '',
        'MFLOPs: mmengine.analysis FlopAnalyzer (one multiply-add = one FLOP; '
        'element-wise ops not counted) of the forward pass: for training, everything '
        'the loss computes per image (both views, heads, losses; backward not '
        'included); for inference, what `predict` runs. Train ms / image: wall time '
        'of training (data loading included) divided by the images seen, mean over '
        'seeds; CDS computes two views per image and is counted once per image. '
        'Memory: growth of the training process\'s peak RSS after the runner was '
        'built (CPU) or peak allocated CUDA memory.', '',
        '## Every run: top-1 / ECE (%)', '', seed_table(results),
    ]
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def seed_summary(args) -> str:
    """``0 1 2`` or ``ce, cds: 0 1 2 3 4; dsn: 0 1 2``."""
    groups: Dict[tuple, List[str]] = {}
    for method in args.methods:
        groups.setdefault(tuple(args.seeds_of[method]), []).append(method)
    if len(groups) == 1:
        return ' '.join(map(str, next(iter(groups))))
    return '; '.join(f'{", ".join(methods)}: {" ".join(map(str, seeds))}'
                     for seeds, methods in groups.items())


def plot_results(args, results: List[dict]) -> List[str]:
    """Draw the comparison's bar charts and reliability diagrams.

    ``comparison.png`` (mean top-1, ECE, time, memory with the sd over seeds as
    error bars, CE curves of the first seed) and ``reliability.png`` (a reliability
    diagram per method, from its first seed)."""
    import numpy as np

    groups = by_method(results)
    if not groups:
        return []
    names = [runs[0]['name'] for runs in groups.values()]
    cuda = any(r.get('device') == 'cuda' for r in _ok(results))

    def panel(title, value):
        stats = [mean_sd([value(r) for r in runs]) for runs in groups.values()]
        return title, [s['mean'] for s in stats], [s['sd'] for s in stats]

    panels = [
        panel('top-1 (%)', lambda r: r['top1']),
        panel('ECE (%), lower is better', lambda r: r['ece']),
        panel('train ms / image', lambda r: 1000 * r['sec_per_image']),
        panel('peak CUDA MiB' if cuda else 'peak RSS MiB',
              lambda r: r['peak_cuda_mib'] if cuda else r['peak_rss_mib']),
    ]
    # 'loss' as logged is the main head's cross-entropy (the head's own key
    # overrides mmengine's total), comparable across methods.
    curves = {runs[0]['name']: read_loss_curve(runs[0].get('log_dir'))
              for runs in groups.values()}
    seeds = sorted({r['seed'] for r in _ok(results)})
    title = (f'{args.epochs} epochs, seeds {" ".join(map(str, seeds))} (mean ± sd), '
             f'{osp.basename(args.data_root.rstrip("/"))}')
    comparison = plot_bars(panels, names, osp.join(args.work_dir, 'comparison.png'),
                           title, curves)
    samples = {}
    for runs in groups.values():
        data = np.load(osp.join(run_dir(args.work_dir, runs[0]['method'],
                                        runs[0]['seed']), 'calibration.npz'))
        samples[f'{runs[0]["name"]} (seed {runs[0]["seed"]})'] = (
            data['confidences'], data['correct'])
    reliability = plot_reliability_grid(samples, args.num_bins,
                                        osp.join(args.work_dir, 'reliability.png'))
    return [comparison, reliability]


__all__ = ['by_method', 'cost_table', 'difference_lines', 'paired_differences',
           'plot_results', 'quality_table', 'run_dir', 'seed_table', 'write_report']
