"""Train the methods the same way and measure them side by side, over seeds.

The logic behind ``tools/compare_methods.py``: train CE, DSN, DKS, DHM, SelfCon and
CDS (and the distillation students KD and CDS + KD, given a teacher checkpoint) the
same way, once per seed, and measure them side by side.

Every (method, seed) starts from the method's CIFAR config (same backbone, data,
schedule and seed; they differ only in what the method itself changes) and is
trained and tested in a subprocess of its own, so that its peak memory is its own;
``--jobs`` runs several at once. The report (:mod:`.comparison_report`) gives mean ±
sd over seeds and, against CE, paired differences with 95% intervals.
"""
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

import numpy as np

from .comparison_report import plot_results, run_dir, write_report
from .config_edit import (class_counts, insert_resize, set_epochs, spread_indices,
                          use_class_folders)
from .progress import PROGRESS_TAG
from .report import utc_now

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


def holdout_split(train_indices: List[int], size: int) -> Tuple[List[int], List[int]]:
    """Split training indices into (train, held out), ``size`` held out.

    The held-out images are spread evenly over the (class-sorted) list, so every
    class gives about as many; the split depends on nothing else, so every method
    and seed of a comparison holds out the same images."""
    if size >= len(train_indices):
        raise ValueError(f'--calibration-holdout {size}: the training split has only '
                         f'{len(train_indices)} images')
    positions = set(spread_indices(len(train_indices), size))
    held_out = [train_indices[i] for i in sorted(positions)]
    kept = [index for i, index in enumerate(train_indices) if i not in positions]
    return kept, held_out


def build_config(args, method: str, seed: int = None):
    """A method's config with the comparison's shared overrides.

    The method's config with the shared overrides: data (root, prefixes, subsets,
    resize, workers), epochs (schedule stepped per iteration, one checkpoint at the
    end; top-1 on the test split every ``args.val_interval`` epochs, none for 0),
    batch size, seed (default: the first of
    ``args.seeds``), the test metrics and, with ``args.calibration_holdout``, the
    held-out training images as ``cfg.holdout_dataloader`` (the test pipeline over
    them; the runner ignores this key); returns ``(cfg, num_classes)``."""
    from mmengine.config import Config

    seed = args.seeds[0] if seed is None else seed
    path = args.config_of[method]
    cfg = Config.fromfile(path if osp.isabs(path) else osp.join(REPO_ROOT, path))
    cfg.work_dir = run_dir(args.work_dir, method, seed)
    if 'teacher_checkpoint' in cfg.model and args.teacher_checkpoint:
        cfg.model.teacher_checkpoint = osp.abspath(args.teacher_checkpoint)
    num_classes = use_class_folders(cfg, args.data_root, args.train_prefix,
                                    args.test_prefix, args.train_subset,
                                    args.test_subset)
    validate = bool(getattr(args, 'val_interval', 0))
    for field in ('train_dataloader', 'test_dataloader') + (
            ('val_dataloader', ) if validate else ()):
        loader = cfg[field]
        loader.num_workers = args.num_workers
        loader.persistent_workers = args.num_workers > 0
        loader.pin_memory = False
        if args.resize:
            insert_resize(loader.dataset.pipeline, args.resize)
    if args.calibration_holdout:
        train_set = cfg.train_dataloader.dataset
        indices = train_set.get('indices', None) or list(
            range(sum(class_counts(args.data_root, args.train_prefix).values())))
        train_set.indices, held_out = holdout_split(list(indices),
                                                    args.calibration_holdout)
        holdout = Config(dict(loader=cfg.test_dataloader.to_dict())).loader
        holdout.dataset.data_prefix = args.train_prefix
        holdout.dataset.indices = held_out
        cfg.holdout_dataloader = holdout
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size
    set_epochs(cfg, args.epochs, per_iteration=True, validate=validate)
    if validate:
        # The val loader is the test split (use_class_folders); top-1 alone keeps
        # the per-epoch check cheap.
        cfg.train_cfg.val_interval = args.val_interval
        cfg.val_cfg = dict()
        cfg.val_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.test_cfg = dict()
    cfg.test_evaluator = [
        dict(type='Accuracy', topk=(1, )),
        dict(type='ExpectedCalibrationError', num_bins=args.num_bins,
             keep_scores=True),
    ]
    cfg.randomness = dict(seed=seed, deterministic=False)
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
                         '(<work-dir>/cds_w32/seed0/epoch_N.pth)')


def _test_metric(runner):
    from .measured_run import calibration_metric
    metric = calibration_metric(runner)
    if not hasattr(metric, 'last_scores'):
        raise RuntimeError('the test evaluator kept no scores '
                           '(ExpectedCalibrationError with keep_scores=True)')
    return metric


def predict_scores(model, dataloader) -> Tuple[np.ndarray, np.ndarray]:
    """``(scores (n, K), labels (n,))`` of ``model.test_step`` over a loader."""
    import torch

    scores, labels = [], []
    model.eval()
    with torch.no_grad():
        for batch in dataloader:
            for sample in model.test_step(batch):
                scores.append(sample.pred_score.float().cpu().numpy())
                labels.append(int(sample.gt_label))
    return np.stack(scores), np.asarray(labels)


def temperature_scaled_metrics(runner) -> Dict:
    """Fit T on the held-out training images; the test metrics after scaling by it.

    Returns ``temperature``, ``holdout_size`` and ``ece_ts``, ``mce_ts`` (in %),
    ``nll_ts``, ``brier_ts`` of the test split's scores after temperature scaling."""
    from mmcds.evaluation import (calibration_bins, fit_temperature, proper_scores,
                                  scale_temperature)
    import torch

    holdout_scores, holdout_labels = predict_scores(
        runner.model, runner.build_dataloader(runner.cfg.holdout_dataloader))
    temperature = fit_temperature(holdout_scores, holdout_labels)
    metric = _test_metric(runner)
    scaled = scale_temperature(torch.as_tensor(metric.last_scores, dtype=torch.float64),
                               temperature)
    confidence, prediction = scaled.max(1)
    labels = torch.as_tensor(metric.last_labels)
    bins = calibration_bins(confidence, prediction == labels, metric.num_bins)
    scores = proper_scores(scaled, labels)
    return dict(temperature=temperature, holdout_size=len(holdout_labels),
                ece_ts=100 * bins['ece'], mce_ts=100 * bins['mce'],
                nll_ts=scores['nll'], brier_ts=scores['brier'])


def run_one(args) -> None:
    """Child process: train and test one (method, seed) and save its results.

    Child process: train and test ``args.run_one`` with seed ``args.seeds[0]``;
    write ``result.json`` and ``calibration.npz`` (per-sample test scores, labels,
    confidences and correctness) into ``<work-dir>/<method>/seed<seed>``."""
    import torch

    import mmcds  # noqa: F401  registers the classifiers and the ECE metric
    from .cost import count_flops
    from .measured_run import measured_run

    method, seed = args.run_one, args.seeds[0]
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, num_classes = build_config(args, method, seed)
    os.makedirs(cfg.work_dir, exist_ok=True)
    after_test = temperature_scaled_metrics if args.calibration_holdout else None
    run = measured_run(cfg, label=f'{METHOD_NAMES.get(method, method)} seed {seed}',
                       before_train=count_flops, after_test=after_test)
    calibration = run.pop('calibration')
    metrics = run.pop('metrics')
    run.pop('history')
    best = best_epoch(run.pop('val_history'))
    scores = np.asarray(calibration.pop('scores'))
    result = dict(**best,
        method=method, name=METHOD_NAMES.get(method, method),
        config=args.config_of[method], model_type=cfg.model.type,
        top1=metrics['accuracy/top1'], ece=metrics['calibration/ECE'],
        mce=metrics['calibration/MCE'], nll=metrics['calibration/NLL'],
        brier=metrics['calibration/Brier'], epochs=args.epochs, seed=seed,
        num_classes=num_classes, test_size=len(scores),
        batch_size=cfg.train_dataloader.batch_size,
        optimizer='{type} lr {lr}'.format(**cfg.optim_wrapper.optimizer), **run)
    np.savez(osp.join(cfg.work_dir, 'calibration.npz'),
             confidences=np.asarray(calibration['confidences']),
             correct=np.asarray(calibration['correct']), scores=scores,
             labels=np.asarray(calibration.pop('labels')))
    with open(osp.join(cfg.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=2)


def best_epoch(val_history: List[tuple]) -> Dict:
    """The per-epoch test top-1 of a run and its best epoch.

    ``{}`` without validation; else ``top1_by_epoch`` (``[[epoch, top-1], ...]``),
    ``best_top1`` and ``best_epoch`` (the first epoch that reached it)."""
    by_epoch = [[epoch, metrics['accuracy/top1']] for epoch, metrics in val_history
                if 'accuracy/top1' in metrics]
    if not by_epoch:
        return {}
    epoch, top1 = max(by_epoch, key=lambda item: (item[1], -item[0]))
    return dict(top1_by_epoch=by_epoch, best_top1=top1, best_epoch=epoch)


def child_command(args, method: str, seed: int, script: str) -> List[str]:
    """The command line that trains and tests one (method, seed) in a subprocess.

    The command line that trains and tests ``method`` with ``seed`` in a subprocess
    of ``script`` (absolute paths: the child runs in the repository root)."""
    cmd = [sys.executable, osp.abspath(script), '--run-one', method,
           '--methods', method, '--data-root', osp.abspath(args.data_root),
           '--train-prefix', args.train_prefix, '--test-prefix', args.test_prefix,
           '--epochs', str(args.epochs), '--seeds', str(seed),
           '--num-bins', str(args.num_bins), '--num-workers', str(args.num_workers),
           '--val-interval', str(args.val_interval),
           '--work-dir', osp.abspath(args.work_dir)]
    for flag in ('train_subset', 'test_subset', 'batch_size', 'resize', 'threads',
                 'teacher_checkpoint', 'calibration_holdout'):
        value = getattr(args, flag)
        if value is not None:
            value = osp.abspath(value) if flag == 'teacher_checkpoint' else value
            cmd += [f'--{flag.replace("_", "-")}', str(value)]
    if method in dict(item.partition('=')[::2] for item in args.config):
        path = args.config_of[method]
        cmd += ['--config', f'{method}={osp.abspath(path) if osp.exists(path) else path}']
    return cmd


def _failure(args, method: str, seed: int, error: str) -> Dict:
    return dict(method=method, name=METHOD_NAMES.get(method, method), seed=seed,
                config=args.config_of[method], error=error[:120].replace('|', '/'))


def check_kept_result(args, method: str, kept: Dict, path: str) -> None:
    """Refuse to ``--resume`` with a result that was trained differently.

    Raises:
        ValueError: the kept run's epochs, config or validation differ from this
            comparison's (mixing them would compare unlike runs silently).
    """
    wanted = dict(epochs=args.epochs, config=args.config_of[method],
                  validated=bool(args.val_interval))
    found = dict(epochs=kept.get('epochs'), config=kept.get('config'),
                 validated='best_top1' in kept)
    differing = {k: (found[k], v) for k, v in wanted.items() if found[k] != v}
    if differing:
        raise ValueError(f'--resume: {path} was trained with ' + ', '.join(
            f'{k}={old!r}, not {new!r}' for k, (old, new) in differing.items())
            + '; use another --work-dir or delete that run')


def _train_in_subprocess(args, method: str, seed: int, script: str, env: dict,
                         position: str = '') -> Tuple[Dict, float]:
    out_dir = run_dir(args.work_dir, method, seed)
    os.makedirs(out_dir, exist_ok=True)
    result_file = osp.join(out_dir, 'result.json')
    if osp.exists(result_file):
        if args.resume:
            with open(result_file) as f:
                kept = json.load(f)
            print(f'[compare] {method} seed {seed}{position}: kept the result of an '
                  f'earlier run ({result_file})', flush=True)
            return kept, 0.
        os.remove(result_file)
    log_file = osp.join(out_dir, 'compare.log')
    print(f'[compare] {method} seed {seed}{position}: training '
          f'({args.config_of[method]}), log in {log_file}', flush=True)
    start = time.perf_counter()
    # The child's output goes to its log; its progress lines (one per epoch, with
    # the time left) are shown here as well.
    with open(log_file, 'w') as log, subprocess.Popen(
            child_command(args, method, seed, script), stdout=subprocess.PIPE,
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
    print(f'[compare] {method} seed {seed} FAILED (exit {proc.returncode}); log '
          f'tail:\n{tail}', file=sys.stderr, flush=True)
    last = [line for line in tail.strip().splitlines() if line.strip()][-1:] or ['?']
    return _failure(args, method, seed, last[0].strip()), 0.


def planned_runs(args) -> List[Tuple[str, int]]:
    """Every (method, seed) to train, seed by seed (so an interrupted comparison
    has whole seeds), methods in the given order within a seed."""
    seeds = sorted({s for m in args.methods for s in args.seeds_of[m]},
                   key=lambda s: min(args.seeds_of[m].index(s) for m in args.methods
                                     if s in args.seeds_of[m]))
    return [(m, s) for s in seeds for m in args.methods if s in args.seeds_of[m]]


def command_line(script: str, argv: List[str]) -> str:
    """``python <script> <args>`` as the reports print it (shell-quoted)."""
    return 'python ' + ' '.join(shlex.quote(a)
                                for a in [osp.relpath(script)] + list(argv))


def run_comparison(args, argv: List[str], script: str) -> int:
    """Train every (method, seed), ``args.jobs`` at a time; write report and plots.

    Keeps the results in ``args.results``; returns 1 if a run failed, else 0."""
    command = command_line(script, argv)
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
    runs = planned_runs(args)
    if args.resume:  # before anything trains
        for method, seed in runs:
            path = osp.join(run_dir(args.work_dir, method, seed), 'result.json')
            if osp.exists(path):
                with open(path) as f:
                    check_kept_result(args, method, json.load(f), path)
    results: List[Dict] = []
    lock = threading.Lock()

    def train(item):
        index, (method, seed) = item
        result, seconds = _train_in_subprocess(args, method, seed, script, env,
                                               f' ({index}/{len(runs)})')
        with lock:
            results.append(result)
            # Rewrite the report after every run: an interrupted comparison keeps
            # what it measured.
            write_report(args, list(results), command, started,
                         time.perf_counter() - t0)
        if 'error' not in result:
            print(f'[compare] {method} seed {seed}: top-1 {result["top1"]:.2f}%, ECE '
                  f'{result["ece"]:.2f}%, {1000 * result["sec_per_image"]:.2f} '
                  f'ms/image, {seconds:.0f} s', flush=True)

    # Threads only wait on the children; each child is a process of its own.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(train, enumerate(runs, 1)))
    order = {run: i for i, run in enumerate(runs)}
    results.sort(key=lambda r: order[(r['method'], r['seed'])])
    report = write_report(args, results, command, started, time.perf_counter() - t0)
    args.results = results
    plots = [] if args.no_plot else plot_results(args, results)
    print(report)
    for path in plots:
        print(f'[compare] wrote {path}')
    return 1 if any('error' in r for r in results) else 0
