"""The report of a method comparison: tables over seeds, paired differences, plots."""
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from .report import (group_by, machine_description, markdown_table, plot_bars,
                     plot_reliability_grid, read_loss_curve)
from .statistics import holm_adjust, mean_sd, paired_difference, paired_t_p_value

BASELINE = 'ce'
# (result key, table title, digits): what is compared against the baseline.
QUALITY = [('top1', 'Top-1 (%)', 2), ('ece', 'ECE (%)', 2), ('nll', 'NLL', 3),
           ('brier', 'Brier', 4)]
# With validation during training (--val-interval): the best epoch's test top-1,
# which is what the authors report (CIFAR/train.py and ImageNet main.py keep the
# best accuracy over all epochs), and the epoch it came from.
BEST = [('best_top1', 'Best-epoch top-1 (%)', 2), ('best_epoch', 'Best epoch', 1)]
# Family-wise error rate of the comparisons of one metric (Holm's correction).
FAMILY_ALPHA = 0.05
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
    return {method: diff for (method, reference), diff in _pair_differences(
        results, key, comparison_pairs(results)).items()}


def comparison_pairs(results: List[dict],
                     head_to_head: Sequence[Tuple[str, str]] = ()
                     ) -> List[Tuple[str, str]]:
    """The (method, reference) pairs a report compares, in report order.

    Every method that ran against CE (when CE ran), then the ``head_to_head`` pairs
    (e.g. ``[('cds', 'dks')]``) whose two methods both ran."""
    methods = list(by_method(results))
    pairs = [(m, BASELINE) for m in methods if m != BASELINE and BASELINE in methods]
    for a, b in head_to_head:
        if a in methods and b in methods and not {(a, b), (b, a)} & set(pairs):
            pairs.append((a, b))
    return pairs


def _pair_differences(results: List[dict], key: str,
                      pairs: Sequence[Tuple[str, str]]) -> Dict[tuple, dict]:
    groups = by_method(results)
    diffs = {}
    for method, reference in pairs:
        values = {r['seed']: r[key] for r in groups[method] if key in r}
        reference_values = {r['seed']: r[key] for r in groups[reference] if key in r}
        if set(values) & set(reference_values):
            diffs[(method, reference)] = paired_difference(values, reference_values)
    return diffs


def compare_pairs(results: List[dict], key: str,
                  pairs: Sequence[Tuple[str, str]]) -> List[dict]:
    """Paired differences of ``key`` over the seeds each pair shares, corrected for
    multiplicity.

    One dict per pair (in the order of ``pairs``; pairs without a shared seed are
    left out): ``method``, ``reference``, the :func:`paired_difference` fields (95%
    interval), ``p`` (two-sided paired t-test), ``p_holm`` (Holm-adjusted over the
    pairs of this metric that have an interval, m = ``family_size``) and
    ``simultaneous_low`` / ``simultaneous_high``: the Bonferroni interval at
    1 - 0.05 / m, which holds for all m pairs at once with 95% probability."""
    diffs = _pair_differences(results, key, pairs)
    rows = [dict(method=m, reference=r, **diff, p=paired_t_p_value(diff))
            for (m, r), diff in diffs.items()]
    family_size = sum(1 for row in rows if row['n'] >= 2)
    for row, adjusted in zip(rows, holm_adjust([row['p'] for row in rows])):
        row.update(p_holm=adjusted, family_size=family_size,
                   simultaneous_low=float('nan'), simultaneous_high=float('nan'))
        if row['n'] >= 2:
            groups = by_method(results)
            simultaneous = paired_difference(
                {r['seed']: r[key] for r in groups[row['method']] if key in r},
                {r['seed']: r[key] for r in groups[row['reference']] if key in r},
                confidence=1 - FAMILY_ALPHA / family_size)
            row.update(simultaneous_low=simultaneous['low'],
                       simultaneous_high=simultaneous['high'])
    return rows


def _measured_by_all(results: List[dict], items: list) -> list:
    ok = _ok(results)
    return [item for item in items if ok and all(item[0] in r for r in ok)]


def quality_table(results: List[dict]) -> str:
    """Mean ± sd over seeds of top-1 (final epoch, and best epoch when validated),
    ECE, NLL, Brier (and after temperature scaling, when measured) per method, and
    top-1 / ECE differences to CE."""
    groups = by_method(results)
    columns = (QUALITY[:1] + _measured_by_all(results, BEST) + QUALITY[1:] +
               _measured_by_all(results, AFTER_SCALING))
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


def seed_table(results: List[dict], cell=None) -> str:
    """One number per run: a row per method, a column per seed.

    ``cell(result) -> str`` writes a run's cell; default: top-1 / ECE."""
    cell = cell or (lambda r: f'{r["top1"]:.2f} / {r["ece"]:.2f}')
    groups = by_method(results)
    seeds = sorted({r['seed'] for runs in groups.values() for r in runs})
    rows = []
    for runs in groups.values():
        of_seed = {r['seed']: r for r in runs}
        rows.append([runs[0]['name']] + [cell(of_seed[s]) if s in of_seed else ''
                                         for s in seeds])
    return markdown_table(['Method'] + [f'seed {s}' for s in seeds], rows)


def _p_text(p: float) -> str:
    if p != p:  # NaN: one seed
        return ''
    return f'{p:.4f}' if p >= 0.0001 else '< 0.0001'


def comparison_table(results: List[dict], key: str, digits: int,
                     head_to_head: Sequence[Tuple[str, str]] = ()) -> str:
    """One row per compared pair (:func:`compare_pairs`) for the metric ``key``.

    Columns: the pair, its seeds, the mean difference with its 95% interval, the
    paired t-test's p and Holm's adjusted p over the metric's family of
    comparisons, the simultaneous (Bonferroni) 95% interval, and the verdict at a
    family-wise error rate of 5%."""
    names = {method: runs[0]['name'] for method, runs in by_method(results).items()}
    rows = []
    for row in compare_pairs(results, key, comparison_pairs(results, head_to_head)):
        name = f'{names[row["method"]]} − {names[row["reference"]]}'
        if row['n'] < 2:
            rows.append([name, '1', f'{row["mean"]:+.{digits}f}', 'one seed: no '
                         'interval', '', '', '', 'not tested'])
            continue
        shown = row['p_holm'] < FAMILY_ALPHA
        rows.append([
            name, str(row['n']), f'{row["mean"]:+.{digits}f}',
            f'[{row["low"]:+.{digits}f}, {row["high"]:+.{digits}f}]',
            _p_text(row['p']), _p_text(row['p_holm']),
            f'[{row["simultaneous_low"]:+.{digits}f}, '
            f'{row["simultaneous_high"]:+.{digits}f}]',
            ('difference shown (higher)' if row['mean'] > 0 else
             'difference shown (lower)') if shown else 'no difference shown'])
    return markdown_table(['Comparison', 'Seeds', 'Δ (mean)', '95% CI', 'p',
                           'Holm p', 'simultaneous 95% CI', 'at 5% family-wise'],
                          rows, align='lrrrrrrl')


def comparison_sections(results: List[dict],
                        head_to_head: Sequence[Tuple[str, str]] = ()) -> List[str]:
    """Markdown lines: a comparison table per metric (top-1 final and best epoch,
    ECE, NLL, and after temperature scaling where measured)."""
    keys = (QUALITY[:1] + _measured_by_all(results, BEST[:1]) + QUALITY[1:3] +
            _measured_by_all(results, AFTER_SCALING[:2]))
    lines = []
    for key, title, digits in keys:
        if not compare_pairs(results, key, comparison_pairs(results, head_to_head)):
            continue
        lines += [f'### {title}', '',
                  comparison_table(results, key, digits, head_to_head), '']
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
        'configs\' cosine schedule stepped per iteration; '
        + (f'top-1 on the test split every {args.val_interval} epoch(s) during '
           'training for the best epoch (picked on the split it is scored on, as '
           'the paper reports it; the training time excludes it)'
           if getattr(args, 'val_interval', 0) else 'no validation during training')
        + '; metrics on the test split',
        f'- Seeds: {seed_summary(args)}; a seed fixes the initialisation and the data '
        'order of every method alike',
        f'- ECE / MCE: {args.num_bins} equal-width confidence bins, in %; NLL in nats; '
        'Brier summed over classes; lower is better for all four'
        + ('; "after TS": temperature scaling with T fitted (NLL) on the held-out '
           'training images' if holdout else ''),
        '', '## Accuracy and calibration (mean ± sd over seeds)', '',
        quality_table(results), '',
        'Δ: paired difference to CE over the seeds both ran (method − CE), mean and '
        '95% t interval.', '',
        '## Paired comparisons, corrected for multiplicity', '',
        'Per metric, every method against CE'
        + (' and the head-to-head pairs' if getattr(args, 'head_to_head', None)
           else '') + ', paired by seed. p: two-sided paired t-test; Holm p: '
        'adjusted by Holm\'s method over the comparisons of that metric; '
        'simultaneous 95% CI: Bonferroni interval at 1 - 0.05/m, which holds for '
        'all m comparisons of the metric at once. "Difference shown" means Holm p '
        '< 0.05.', '',
        *comparison_sections(results, getattr(args, 'head_to_head', None) or ()),
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
    if _measured_by_all(results, BEST[:1]):
        lines += ['', '## Every run: best-epoch top-1 (%) (epoch)', '',
                  seed_table(results, lambda r: f'{r["best_top1"]:.2f} '
                             f'({r["best_epoch"]})')]
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


__all__ = ['by_method', 'compare_pairs', 'comparison_pairs', 'comparison_sections',
           'comparison_table', 'cost_table', 'paired_differences', 'plot_results',
           'quality_table', 'run_dir', 'seed_table', 'write_report']
