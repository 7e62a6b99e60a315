"""Train the methods the same way and measure them side by side.

Train CE, DSN, DKS, DHM, SelfCon and CDS (and the distillation students KD and
CDS + KD, given a teacher checkpoint) the same way and measure them side by side:
the logic behind ``tools/compare_methods.py``.

Every method starts from its CIFAR config (same backbone, data, schedule and seed;
they differ only in what the method itself changes) and is trained and tested in a
subprocess of its own, so that its peak memory is its own.
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Tuple

from .config_edit import class_counts, insert_resize, set_epochs, use_class_folders
from .progress import PROGRESS_TAG
from .report import (machine_description, markdown_table, plot_bars,
                     plot_reliability_grid, read_loss_curve, utc_now)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHOD_CONFIGS = {
    'ce': 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py',
    'dsn': 'configs/dsn/resnet18-w16_1xb64_cifar10-jpg.py',
    'dks': 'configs/dks/resnet18-w16_1xb64_cifar10-jpg.py',
    'dhm': 'configs/dhm/resnet18-w16_1xb64_cifar10-jpg.py',
    'selfcon': 'configs/selfcon/resnet18-w16_1xb64_cifar10-jpg.py',
    'cds': 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py',
    # Distillation: a width-32 CDS teacher, then students that need its checkpoint
    # (--teacher-checkpoint): classic KD and distilled CDS.
    'cds_w32': 'configs/cds/resnet18-w32_1xb64_cifar10-jpg.py',
    'kd': 'configs/distill/resnet18-w16_r18-w32-teacher_kd_1xb64_cifar10-jpg.py',
    'cds_kd': 'configs/distill/resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg.py',
}
DEFAULT_METHODS = ['ce', 'dsn', 'dks', 'selfcon', 'cds']
METHOD_NAMES = {'ce': 'CE', 'dsn': 'DSN', 'dks': 'DKS', 'selfcon': 'SelfCon',
                'cds': 'CDS', 'dhm': 'DHM-style', 'cds_w32': 'CDS w32 (teacher)',
                'kd': 'KD', 'cds_kd': 'CDS + KD'}
# Sized from a run on a 2-core CPU shared with another job (docs/results.md, run 2):
# with one torch thread, the five default methods trained for 6 epochs over the
# 10,000 CIFAR-10 training JPEGs and were tested on the 10,000 test JPEGs in 38.8
# minutes.
DEFAULT_EPOCHS = 6


def build_config(args, method: str):
    """A method's config with the comparison's shared overrides.

    The method's config with the shared overrides: data (root, prefixes, subsets,
    resize, workers), epochs (schedule stepped per iteration, no validation, one
    checkpoint at the end), batch size, seed and the test metrics; returns
    ``(cfg, num_classes)``."""
    from mmengine.config import Config

    path = args.config_of[method]
    cfg = Config.fromfile(path if osp.isabs(path) else osp.join(REPO_ROOT, path))
    cfg.work_dir = osp.join(args.work_dir, method)
    if 'teacher_checkpoint' in cfg.model and args.teacher_checkpoint:
        cfg.model.teacher_checkpoint = osp.abspath(args.teacher_checkpoint)
    num_classes = use_class_folders(cfg, args.data_root, args.train_prefix,
                                    args.test_prefix, args.train_subset,
                                    args.test_subset)
    for field in ('train_dataloader', 'test_dataloader'):
        loader = cfg[field]
        loader.num_workers = args.num_workers
        loader.persistent_workers = args.num_workers > 0
        loader.pin_memory = False
        if args.resize:
            insert_resize(loader.dataset.pipeline, args.resize)
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    set_epochs(cfg, args.epochs, per_iteration=True, validate=False)
    cfg.test_cfg = dict()
    cfg.test_evaluator = [
        dict(type='Accuracy', topk=(1, )),
        dict(type='ExpectedCalibrationError', num_bins=args.num_bins),
    ]
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=20)
    cfg.launcher = 'none'
    return cfg, num_classes


def check_teacher_checkpoint(args) -> None:
    """Refuse distiller methods without a teacher checkpoint before training.

    Raises:
        ValueError: a method's model takes ``teacher_checkpoint`` (a distiller),
            its config sets none and ``--teacher-checkpoint`` is not given or is not a
            file.
    """
    from mmengine.config import Config

    if args.teacher_checkpoint:
        if not osp.isfile(args.teacher_checkpoint):
            raise ValueError(f'--teacher-checkpoint: file not found: '
                             f'{args.teacher_checkpoint}')
        return
    needing = []
    for method in args.methods:
        path = args.config_of[method]
        model = Config.fromfile(path if osp.isabs(path) else
                                osp.join(REPO_ROOT, path)).model
        if 'teacher_checkpoint' in model and not model.teacher_checkpoint:
            needing.append(method)
    if needing:
        raise ValueError(f'--teacher-checkpoint: {needing} distil from a teacher; give '
                         'its checkpoint, e.g. from a run of --methods cds_w32 '
                         '(<work-dir>/cds_w32/epoch_N.pth)')


def run_one(args) -> None:
    """Child process: train and test one method and save its results.

    Child process: train and test ``args.run_one``; write ``result.json`` and
    ``calibration.npz`` into ``<work-dir>/<method>``."""
    import numpy as np
    import torch

    import mmcds  # noqa: F401  registers the classifiers and the ECE metric
    from .measured_run import measured_run

    method = args.run_one
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, num_classes = build_config(args, method)
    os.makedirs(cfg.work_dir, exist_ok=True)
    run = measured_run(cfg,
                       label=f'{METHOD_NAMES.get(method, method)} seed {args.seed}')
    calibration = run.pop('calibration')
    metrics = run.pop('metrics')
    run.pop('history')
    result = dict(
        method=method, name=METHOD_NAMES.get(method, method),
        config=args.config_of[method], model_type=cfg.model.type,
        top1=metrics['accuracy/top1'], ece=metrics['calibration/ECE'],
        mce=metrics['calibration/MCE'], epochs=args.epochs, seed=args.seed,
        num_classes=num_classes, test_size=len(calibration['confidences']),
        batch_size=cfg.train_dataloader.batch_size,
        optimizer='{type} lr {lr}'.format(**cfg.optim_wrapper.optimizer), **run)
    np.savez(osp.join(cfg.work_dir, 'calibration.npz'),
             confidences=np.asarray(calibration['confidences']),
             correct=np.asarray(calibration['correct']))
    with open(osp.join(cfg.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=2)


def format_table(results: List[dict]) -> str:
    """Markdown table of the per-method results (a failed run shows its error)."""
    cuda = any(r.get('device') == 'cuda' for r in results)
    memory_title = 'Peak CUDA memory (MiB)' if cuda \
        else 'Peak RSS (MiB) [growth in training]'
    rows = []
    for r in results:
        if 'error' in r:
            rows.append([r['name'], f'failed: {r["error"]}', '', '', '', '',
                         f'`{r.get("config", "")}`'])
            continue
        memory = f'{r["peak_cuda_mib"]:.0f}' if r.get('device') == 'cuda' else (
            f'{r["peak_rss_mib"]:.0f} '
            f'[+{r["peak_rss_mib"] - r["rss_train_start_mib"]:.0f}]')
        rows.append([
            r['name'], f'{r["top1"]:.2f}', f'{r["ece"]:.2f}',
            f'{1000 * r["sec_per_image"]:.2f} ms', memory,
            f'{r["params_train"] / 1e6:.3f} / {r["params_test"] / 1e6:.3f}',
            f'`{r["config"]}`'
        ])
    return markdown_table(['Method', 'Top-1 (%)', 'ECE (%)', 'Train s / image',
                           memory_title, 'Params train / test (M)', 'Config'], rows,
                          align='lrrrrrl')


def write_report(args, results: List[dict], command: str, started: str,
                 wall_seconds: float) -> str:
    """Write ``results.md`` (command, date, machine, data, schedule, table)."""
    ok = [r for r in results if 'error' not in r]
    first = ok[0] if ok else {}
    lines = [
        '# Method comparison', '',
        f'- Command: `{command}`',
        f'- Date: {started} (UTC); total wall time {wall_seconds / 60:.1f} min',
        f'- Machine: {machine_description()}',
        f'- Data: `{args.data_root_shown}` ({args.train_prefix}: '
        f'{first.get("train_size", "?")} images, {args.test_prefix}: '
        f'{first.get("test_size", "?")} images, {first.get("num_classes", "?")} '
        'classes)',
        f'- Schedule: {args.epochs} epochs, batch size '
        f'{first.get("batch_size", "?")}, seed {args.seed}, '
        f'{first.get("optimizer", "?")} with the configs\' cosine schedule stepped '
        'per iteration, no validation during training; top-1 and ECE on the test '
        'split',
        f'- ECE: {args.num_bins} equal-width confidence bins, in %; lower is better',
        '', format_table(results), '',
        'Train s / image: wall time of training (data loading included) divided by '
        'the images seen; CDS computes two views per image. Peak RSS is the whole '
        'training process (Python + torch baseline included, dataloader workers '
        'excluded); the bracket is its growth after the runner was built.',
    ]
    text = '\n'.join(lines) + '\n'
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text)
    return text


def plot_results(args, results: List[dict]) -> List[str]:
    """Draw the comparison's bar charts and reliability diagrams.

    ``comparison.png`` (top-1, ECE, time, memory, CE curves) and
    ``reliability.png`` (one reliability diagram per method)."""
    import numpy as np

    ok = [r for r in results if 'error' not in r]
    if not ok:
        return []
    names = [r['name'] for r in ok]
    cuda = any(r['device'] == 'cuda' for r in ok)
    panels = [
        ('top-1 (%)', [r['top1'] for r in ok]),
        ('ECE (%), lower is better', [r['ece'] for r in ok]),
        ('train ms / image', [1000 * r['sec_per_image'] for r in ok]),
        ('peak CUDA MiB' if cuda else 'peak RSS MiB',
         [r['peak_cuda_mib'] if cuda else r['peak_rss_mib'] for r in ok]),
    ]
    # 'loss' as logged is the main head's cross-entropy (the head's own key
    # overrides mmengine's total), comparable across methods.
    curves = {r['name']: read_loss_curve(r.get('log_dir')) for r in ok}
    title = (f'{args.epochs} epochs, seed {args.seed}, '
             f'{osp.basename(args.data_root.rstrip("/"))}')
    comparison = plot_bars(panels, names, osp.join(args.work_dir, 'comparison.png'),
                           title, curves)
    samples = {}
    for r in ok:
        data = np.load(osp.join(args.work_dir, r['method'], 'calibration.npz'))
        samples[r['name']] = (data['confidences'], data['correct'])
    reliability = plot_reliability_grid(samples, args.num_bins,
                                        osp.join(args.work_dir, 'reliability.png'))
    return [comparison, reliability]


def child_command(args, method: str, script: str) -> List[str]:
    """The command line that trains and tests one method in a subprocess.

    The command line that trains and tests ``method`` in a subprocess of
    ``script`` (absolute paths: the child runs in the repository root)."""
    cmd = [sys.executable, osp.abspath(script), '--run-one', method,
           '--methods', method, '--data-root', osp.abspath(args.data_root),
           '--train-prefix', args.train_prefix, '--test-prefix', args.test_prefix,
           '--epochs', str(args.epochs), '--seed', str(args.seed),
           '--num-bins', str(args.num_bins), '--num-workers', str(args.num_workers),
           '--work-dir', osp.abspath(args.work_dir)]
    for flag in ('train_subset', 'test_subset', 'batch_size', 'resize', 'threads',
                 'teacher_checkpoint'):
        value = getattr(args, flag)
        if value is not None:
            value = osp.abspath(value) if flag == 'teacher_checkpoint' else value
            cmd += [f'--{flag.replace("_", "-")}', str(value)]
    if method in dict(item.partition('=')[::2] for item in args.config):
        path = args.config_of[method]
        cmd += ['--config', f'{method}={osp.abspath(path) if osp.exists(path) else path}']
    return cmd


def _train_in_subprocess(args, method: str, script: str, env: dict,
                         position: str = '') -> Tuple[Dict, float]:
    method_dir = osp.join(args.work_dir, method)
    os.makedirs(method_dir, exist_ok=True)
    result_file = osp.join(method_dir, 'result.json')
    if osp.exists(result_file):
        os.remove(result_file)
    log_file = osp.join(method_dir, 'compare.log')
    print(f'[compare] {method}{position}: training ({args.config_of[method]}), log in '
          f'{log_file}', flush=True)
    start = time.perf_counter()
    # The child's output goes to its log; its progress lines (one per epoch, with
    # the time left) are shown here as well.
    with open(log_file, 'w') as log, subprocess.Popen(
            child_command(args, method, script), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT, text=True) as proc:
        for line in proc.stdout:
            log.write(line)
            if PROGRESS_TAG in line:
                progress = line[line.index(PROGRESS_TAG) + len(PROGRESS_TAG):].strip()
                print(f'[compare] {progress}', flush=True)
    if proc.returncode == 0 and osp.exists(result_file):
        with open(result_file) as f:
            return json.load(f), time.perf_counter() - start
    with open(log_file) as f:
        tail = f.read()[-3000:]
    print(f'[compare] {method} FAILED (exit {proc.returncode}); log tail:\n{tail}',
          file=sys.stderr, flush=True)
    last = [line for line in tail.strip().splitlines() if line.strip()][-1:] or ['?']
    return dict(method=method, name=METHOD_NAMES.get(method, method),
                config=args.config_of[method],
                error=last[0].strip()[:120].replace('|', '/')), 0.


def run_comparison(args, argv: List[str], script: str) -> int:
    """Train every method in turn and write the report and plots.

    Train every method of ``args.methods`` in turn, write the report and plots;
    returns 1 if a method failed, else 0."""
    command = 'python ' + ' '.join(shlex.quote(a)
                                   for a in [osp.relpath(script)] + list(argv))
    started = utc_now()
    os.makedirs(args.work_dir, exist_ok=True)
    args.data_root_shown = args.data_root
    if not osp.isdir(args.data_root) and osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        # The default (../shared/data/cifar10) is relative to the repository root.
        args.data_root = osp.join(REPO_ROOT, args.data_root)
    # Fail here, not in every child, on a wrong --data-root or a missing teacher.
    class_counts(args.data_root, args.train_prefix)
    class_counts(args.data_root, args.test_prefix)
    check_teacher_checkpoint(args)

    t0 = time.perf_counter()
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [REPO_ROOT,
                                                      env.get('PYTHONPATH')]))
    results = []
    for index, method in enumerate(args.methods, 1):
        result, seconds = _train_in_subprocess(args, method, script, env,
                                               f' ({index}/{len(args.methods)})')
        results.append(result)
        # Rewrite the table after every method: an interrupted run keeps what it
        # measured.
        write_report(args, results, command, started, time.perf_counter() - t0)
        if 'error' not in result:
            print(f'[compare] {method}: top-1 {result["top1"]:.2f}%, ECE '
                  f'{result["ece"]:.2f}%, {1000 * result["sec_per_image"]:.2f} '
                  f'ms/image, {seconds:.0f} s', flush=True)
    report = write_report(args, results, command, started, time.perf_counter() - t0)
    plots = [] if args.no_plot else plot_results(args, results)
    print(report)
    for path in plots:
        print(f'[compare] wrote {path}')
    return 1 if any('error' in r for r in results) else 0
