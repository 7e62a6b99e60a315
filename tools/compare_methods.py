"""Train CE, DSN, DKS, SelfCon and CDS the same way and measure them side by side.

Every method starts from its CIFAR config (same backbone, data, schedule and seed;
they differ only in what the method itself changes) and is trained in a subprocess
of its own, so that its peak memory is its own. Each run is then tested on the test
split. Written to ``--work-dir``:

- ``results.md``: one markdown table (top-1, ECE, train seconds per image, peak
  memory, parameters) with the command, machine and date;
- ``comparison.png``: bars of top-1 / ECE / s per image / memory and the training
  cross-entropy curves; ``reliability.png``: a reliability diagram per method;
- ``<method>/result.json``, ``<method>/calibration.npz`` and the runner's logs.

Default: ../shared/data/cifar10 (train/ and test/ class folders, 10,000 + 10,000
32x32 JPEGs), the narrow ResNet-18 (width 16), sized to finish in about an hour on
2 CPU cores. Any class-folder data set works via ``--data-root`` (with
``--train-prefix`` / ``--test-prefix``; images are used at their size, add
``--resize 32`` for larger ones).

The configs' SGD + cosine schedule is stretched over ``--epochs`` and stepped every
iteration; validation is off during training.

Example::

    python tools/compare_methods.py --epochs 6
    python tools/compare_methods.py --methods ce cds --train-subset 200 \
        --test-subset 100 --epochs 1 --work-dir work_dirs/compare_tiny

"Train seconds per image" is the wall time of ``runner.train()`` (data loading,
forward, backward, step, logging; no validation) divided by the images seen; CDS
sees each image as two views and is counted once per image. On the CPU, peak memory
is the training process's peak resident set size (``ru_maxrss``, so it includes
the Python/torch baseline that every method shares; the growth during training is
reported too); on CUDA it is ``torch.cuda.max_memory_allocated`` during training.
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import resource
import shlex
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)

METHOD_CONFIGS = {
    'ce': 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py',
    'dsn': 'configs/dsn/resnet18-w16_1xb64_cifar10-jpg.py',
    'dks': 'configs/dks/resnet18-w16_1xb64_cifar10-jpg.py',
    'selfcon': 'configs/selfcon/resnet18-w16_1xb64_cifar10-jpg.py',
    'cds': 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py',
    'dhm': 'configs/dks/resnet18-w16-dhm_1xb64_cifar10-jpg.py',
}
DEFAULT_METHODS = ['ce', 'dsn', 'dks', 'selfcon', 'cds']
METHOD_NAMES = {'ce': 'CE', 'dsn': 'DSN', 'dks': 'DKS', 'selfcon': 'SelfCon',
                'cds': 'CDS', 'dhm': 'DHM-style'}
# Sized from a run on a 2-core CPU shared with another job (docs/results.md, run 2):
# with one torch thread, the five default methods trained for 6 epochs over the
# 10,000 CIFAR-10 training JPEGs and were tested on the 10,000 test JPEGs in 38.8
# minutes, so the default run finishes in well under an hour there.
DEFAULT_EPOCHS = 6
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff',
                  '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and compare CE, DSN, DKS, SelfCon and CDS on the same data',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS,
                        help=f'methods to run, from {sorted(METHOD_CONFIGS)}')
    parser.add_argument('--config', nargs='+', default=[], metavar='METHOD=PATH',
                        help='use another config for a method (e.g. another '
                        'backbone); the overrides below still apply')
    parser.add_argument('--data-root', default=osp.join('..', 'shared', 'data',
                                                        'cifar10'),
                        help='class-folder data set with train and test splits')
    parser.add_argument('--train-prefix', default='train')
    parser.add_argument('--test-prefix', default='test')
    parser.add_argument('--resize', type=int, default=None,
                        help='resize every image to this square size first')
    parser.add_argument('--epochs', type=int, default=DEFAULT_EPOCHS)
    parser.add_argument('--batch-size', type=int, default=None,
                        help="train batch size (default: the configs' 64)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train-subset', type=int, default=None,
                        help='use this many training images, spread evenly over '
                        'the (class-sorted) list, e.g. for a quick check')
    parser.add_argument('--test-subset', type=int, default=None)
    parser.add_argument('--num-bins', type=int, default=15, help='ECE bins')
    parser.add_argument('--num-workers', type=int, default=1,
                        help='dataloader workers per method')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads per training process; 0 lets torch '
                        'pick (one per core). 1 is the default because on a small '
                        'CPU that other jobs share, OpenMP threads spinning against '
                        'each other made training up to 7x slower')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'compare'))
    parser.add_argument('--no-plot', action='store_true')
    parser.add_argument('--run-one', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    args.config_of = dict(METHOD_CONFIGS)
    for item in args.config:
        method, sep, path = item.partition('=')
        if not sep or not path:
            parser.error(f'--config takes METHOD=PATH, got {item!r}')
        args.config_of[method] = path
    unknown = [m for m in args.methods if m not in args.config_of]
    if unknown:
        parser.error(f'unknown method(s) {unknown}; known: {sorted(args.config_of)} '
                     '(add one with --config METHOD=PATH)')
    if len(set(args.methods)) != len(args.methods):
        parser.error(f'--methods lists a method twice: {args.methods}')
    for name in ('epochs', 'train_subset', 'test_subset', 'num_bins', 'batch_size'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.threads < 0:
        parser.error(f'--threads must be >= 0, got {args.threads}')
    if args.num_workers < 0:
        parser.error(f'--num-workers must be >= 0, got {args.num_workers}')
    return args


# --------------------------------------------------------------------------- data
def list_split(data_root: str, prefix: str) -> Dict[str, int]:
    """``{class name: image count}`` of a class-folder split (sorted, like
    mmpretrain's CustomDataset)."""
    split_dir = osp.join(data_root, prefix)
    if not osp.isdir(split_dir):
        raise FileNotFoundError(
            f'no split folder {split_dir!r}; --data-root must hold {prefix}/<class>/'
            'images (e.g. ../shared/data/cifar10)')
    counts = {}
    for name in sorted(os.listdir(split_dir)):
        class_dir = osp.join(split_dir, name)
        if osp.isdir(class_dir):
            counts[name] = sum(
                1 for f in os.listdir(class_dir) if f.lower().endswith(IMAGE_SUFFIXES))
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        raise FileNotFoundError(f'{split_dir!r} has no class folders with images')
    return counts


def spread_indices(total: int, size: Optional[int]) -> Optional[List[int]]:
    """``size`` indices spread evenly over ``range(total)``; as CustomDataset sorts
    by class, this takes about as many images from every class."""
    if size is None or size >= total:
        return None
    return sorted({int(i * total / size) for i in range(size)})


# --------------------------------------------------------------------- one method
def _maxrss_mib() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1. if sys.platform == 'darwin' else 1024.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def build_config(args, method: str):
    """The method's config with the shared overrides (data, schedule, seed, test
    metrics, no validation during training)."""
    from mmengine.config import Config, ConfigDict

    cfg = Config.fromfile(osp.join(REPO_ROOT, args.config_of[method])
                          if not osp.isabs(args.config_of[method])
                          else args.config_of[method])
    cfg.work_dir = osp.join(args.work_dir, method)
    data_root = osp.abspath(args.data_root)
    train_classes = list_split(data_root, args.train_prefix)
    test_classes = list_split(data_root, args.test_prefix)
    if list(test_classes) != list(train_classes):
        raise ValueError(f'{args.train_prefix}/ and {args.test_prefix}/ under '
                         f'{data_root} have different class folders')
    num_classes = len(train_classes)

    cfg.model.head.num_classes = num_classes
    if cfg.get('data_preprocessor', None) is not None:
        cfg.data_preprocessor.num_classes = num_classes
    if cfg.model.get('data_preprocessor', None) is not None:
        cfg.model.data_preprocessor.num_classes = num_classes

    splits = dict(train_dataloader=(args.train_prefix, args.train_subset,
                                    sum(train_classes.values())),
                  test_dataloader=(args.test_prefix, args.test_subset,
                                   sum(test_classes.values())))
    for field, (prefix, subset, total) in splits.items():
        loader = ConfigDict(cfg[field].to_dict())  # unshare test/val dicts
        loader.dataset.data_root = data_root
        loader.dataset.data_prefix = prefix
        loader.dataset.pop('ann_file', None)
        loader.dataset.pop('indices', None)
        indices = spread_indices(total, subset)
        if indices is not None:
            loader.dataset.indices = indices
        loader.num_workers = args.num_workers
        loader.persistent_workers = args.num_workers > 0
        loader.pin_memory = False
        if args.resize:
            _insert_resize(loader.dataset.pipeline, args.resize)
        cfg[field] = loader
    if args.batch_size:
        cfg.train_dataloader.batch_size = args.batch_size

    # Train without validation; test once at the end with the same metrics for all.
    cfg.val_cfg = None
    cfg.val_dataloader = None
    cfg.val_evaluator = None
    cfg.test_cfg = dict()
    cfg.test_evaluator = [
        dict(type='Accuracy', topk=(1, )),
        dict(type='ExpectedCalibrationError', num_bins=args.num_bins),
    ]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=args.epochs)
    schedulers = cfg.param_scheduler if isinstance(cfg.param_scheduler, list) \
        else [cfg.param_scheduler]
    for scheduler in schedulers:
        # The cosine schedule ends at the last epoch, whatever the epoch count, and
        # steps every iteration: with a few epochs, per-epoch steps would leave the
        # learning rate flat for most of the run.
        if 'T_max' in scheduler:
            scheduler.T_max = args.epochs
        if scheduler.get('by_epoch', True):
            scheduler.convert_to_iter_based = True
        if 'end' in scheduler and scheduler.get('by_epoch', True):
            scheduler.end = min(scheduler.end, args.epochs)
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    # One checkpoint at the end (to test or reuse the model later), none in between.
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1,
                                        save_last=True, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=20)
    cfg.launcher = 'none'
    return cfg, num_classes


def _insert_resize(pipeline, size: int) -> None:
    for index, step in enumerate(pipeline):
        if step.get('type') == 'LoadImageFromFile':
            pipeline.insert(index + 1, dict(type='Resize', scale=(size, size)))
            return
    raise ValueError('--resize: the pipeline has no LoadImageFromFile step')


def run_one(args) -> None:
    """Child process: train and test one method, write result.json and
    calibration.npz into ``<work-dir>/<method>``."""
    import numpy as np
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import mmcds  # noqa: F401  registers the classifiers and the ECE metric

    method = args.run_one
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, num_classes = build_config(args, method)
    os.makedirs(cfg.work_dir, exist_ok=True)
    cuda = torch.cuda.is_available()

    class Probe(Hook):
        """Times training, counts images, reads peak memory, keeps test
        confidences for the reliability diagram."""
        priority = 'VERY_LOW'

        def __init__(self):
            self.images = 0
            self.confidences, self.correct = [], []

        def before_train(self, runner):
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            self.rss_start = _maxrss_mib()
            self.start = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.images += len(data_batch['data_samples'])

        def after_train(self, runner):
            if cuda:
                torch.cuda.synchronize()
                self.cuda_peak = torch.cuda.max_memory_allocated() / 2**20
            self.seconds = time.perf_counter() - self.start
            self.rss_peak = _maxrss_mib()

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            for sample in outputs:
                score = sample.pred_score.float().cpu()
                self.confidences.append(float(score.max()))
                self.correct.append(int(score.argmax()) == int(sample.gt_label[0]))

    runner = Runner.from_cfg(cfg)
    probe = Probe()
    runner.register_hook(probe)
    model = runner.model
    params_train = sum(p.numel() for p in model.parameters())
    # What inference runs: ImageClassifier's backbone, neck and head.
    params_test = sum(p.numel() for name in ('backbone', 'neck', 'head')
                      if getattr(model, name, None) is not None
                      for p in getattr(model, name).parameters())
    runner.train()
    metrics = runner.test()

    result = dict(
        method=method, name=METHOD_NAMES.get(method, method),
        config=args.config_of[method], model_type=cfg.model.type,
        top1=float(metrics['accuracy/top1']),
        ece=float(metrics['calibration/ECE']), mce=float(metrics['calibration/MCE']),
        train_seconds=probe.seconds, train_images=probe.images,
        sec_per_image=probe.seconds / max(probe.images, 1),
        epochs=args.epochs, seed=args.seed, num_classes=num_classes,
        train_size=len(runner.train_dataloader.dataset),
        test_size=len(probe.confidences),
        batch_size=cfg.train_dataloader.batch_size,
        optimizer='{type} lr {lr}'.format(**cfg.optim_wrapper.optimizer),
        device='cuda' if cuda else 'cpu', torch_threads=torch.get_num_threads(),
        peak_rss_mib=probe.rss_peak, rss_train_start_mib=probe.rss_start,
        peak_cuda_mib=getattr(probe, 'cuda_peak', None),
        params_train=params_train, params_test=params_test,
        log_dir=runner.log_dir)
    np.savez(osp.join(cfg.work_dir, 'calibration.npz'),
             confidences=np.asarray(probe.confidences),
             correct=np.asarray(probe.correct))
    with open(osp.join(cfg.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=2)


# ----------------------------------------------------------------------- reports
def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    text = f'{os.cpu_count()} CPU cores ({cpu}), {platform.system()} ' \
           f'{platform.release()}, Python {platform.python_version()}'
    try:
        import torch
        text += f', torch {torch.__version__}'
        text += f', GPU {torch.cuda.get_device_name(0)}' if torch.cuda.is_available() \
            else ', no GPU'
    except ImportError:
        pass
    return text


def format_table(results: List[dict]) -> str:
    """Markdown table of the per-method results (a failed run shows its error)."""
    cuda = any(r.get('device') == 'cuda' for r in results)
    mem = 'Peak CUDA memory (MiB)' if cuda else 'Peak RSS (MiB) [growth in training]'
    lines = [
        f'| Method | Top-1 (%) | ECE (%) | Train s / image | {mem} | '
        'Params train / test (M) | Config |',
        '|---|---:|---:|---:|---:|---:|---|',
    ]
    for r in results:
        if 'error' in r:
            lines.append(f'| {r["name"]} | failed: {r["error"]} | | | | | '
                         f'`{r.get("config", "")}` |')
            continue
        if r.get('device') == 'cuda':
            memory = f'{r["peak_cuda_mib"]:.0f}'
        else:
            memory = (f'{r["peak_rss_mib"]:.0f} '
                      f'[+{r["peak_rss_mib"] - r["rss_train_start_mib"]:.0f}]')
        lines.append(
            f'| {r["name"]} | {r["top1"]:.2f} | {r["ece"]:.2f} | '
            f'{1000 * r["sec_per_image"]:.2f} ms | {memory} | '
            f'{r["params_train"] / 1e6:.3f} / {r["params_test"] / 1e6:.3f} | '
            f'`{r["config"]}` |')
    return '\n'.join(lines)


def write_report(args, results: List[dict], command: str, started: str,
                 wall_seconds: float) -> str:
    ok = [r for r in results if 'error' not in r]
    first = ok[0] if ok else {}
    lines = [
        '# Method comparison', '',
        f'- Command: `{command}`',
        f'- Date: {started} (UTC); total wall time {wall_seconds / 60:.1f} min',
        f'- Machine: {machine_description()}',
        f'- Data: `{getattr(args, "data_root_shown", args.data_root)}` '
        f'({args.train_prefix}: '
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


def _read_curve(log_dir: Optional[str]):
    path = osp.join(log_dir or '', 'vis_data', 'scalars.json')
    steps, values = [], []
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                # 'loss' as logged is the main head's cross-entropy (the head's own
                # key overrides mmengine's total), comparable across methods.
                if 'loss' in record and 'step' in record:
                    steps.append(record['step'])
                    values.append(record['loss'])
    return steps, values


def plot_results(args, results: List[dict]) -> List[str]:
    import numpy as np
    from matplotlib.figure import Figure

    from mmcds.evaluation import plot_reliability_diagram

    ok = [r for r in results if 'error' not in r]
    if not ok:
        return []
    names = [r['name'] for r in ok]
    colors = [f'C{i}' for i in range(len(ok))]
    cuda = any(r['device'] == 'cuda' for r in ok)
    panels = [
        ('top-1 (%)', [r['top1'] for r in ok]),
        ('ECE (%), lower is better', [r['ece'] for r in ok]),
        ('train ms / image', [1000 * r['sec_per_image'] for r in ok]),
        ('peak CUDA MiB' if cuda else 'peak RSS MiB',
         [r['peak_cuda_mib'] if cuda else r['peak_rss_mib'] for r in ok]),
    ]
    fig = Figure(figsize=(15, 3.4), dpi=110)
    axes = fig.subplots(1, 5)
    for ax, (title, values) in zip(axes, panels):
        bars = ax.bar(names, values, color=colors)
        ax.bar_label(bars, fmt='%.2f' if max(values) < 100 else '%.0f', fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis='x', labelsize=8, rotation=30)
    for r, color in zip(ok, colors):
        steps, values = _read_curve(r.get('log_dir'))
        if steps:
            axes[-1].plot(steps, values, color=color, label=r['name'], linewidth=1)
    axes[-1].set_title('train CE of the main head', fontsize=9)
    axes[-1].set_xlabel('iteration', fontsize=8)
    axes[-1].legend(fontsize=7)
    fig.suptitle(f'{args.epochs} epochs, seed {args.seed}, {osp.basename(args.data_root.rstrip("/"))}',
                 fontsize=9)
    fig.tight_layout()
    comparison = osp.join(args.work_dir, 'comparison.png')
    fig.savefig(comparison)

    fig = Figure(figsize=(3.3 * len(ok), 3.4), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, len(ok)))
    for ax, r in zip(axes, ok):
        data = np.load(osp.join(args.work_dir, r['method'], 'calibration.npz'))
        plot_reliability_diagram(data['confidences'], data['correct'],
                                 num_bins=args.num_bins, title=r['name'], ax=ax)
    fig.tight_layout()
    reliability = osp.join(args.work_dir, 'reliability.png')
    fig.savefig(reliability)
    return [comparison, reliability]


# -------------------------------------------------------------------------- main
def child_command(args, method: str) -> List[str]:
    # The child runs in the repository root: hand it absolute paths.
    cmd = [sys.executable, osp.abspath(__file__), '--run-one', method,
           '--methods', method, '--data-root', osp.abspath(args.data_root),
           '--train-prefix', args.train_prefix, '--test-prefix', args.test_prefix,
           '--epochs', str(args.epochs), '--seed', str(args.seed),
           '--num-bins', str(args.num_bins), '--num-workers', str(args.num_workers),
           '--work-dir', osp.abspath(args.work_dir)]
    for flag in ('train_subset', 'test_subset', 'batch_size', 'resize', 'threads'):
        value = getattr(args, flag)
        if value is not None:
            cmd += [f'--{flag.replace("_", "-")}', str(value)]
    if method in dict(item.partition('=')[::2] for item in args.config):
        path = args.config_of[method]
        cmd += ['--config', f'{method}={osp.abspath(path) if osp.exists(path) else path}']
    return cmd


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.run_one:
        run_one(args)
        return 0

    command = 'python ' + ' '.join(shlex.quote(a) for a in
                                   [osp.relpath(__file__)] + list(
                                       sys.argv[1:] if argv is None else argv))
    started = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M')
    os.makedirs(args.work_dir, exist_ok=True)
    args.data_root_shown = args.data_root
    if not osp.isdir(args.data_root) and osp.isdir(osp.join(REPO_ROOT, args.data_root)):
        # The default (../shared/data/cifar10) is relative to the repository root.
        args.data_root = osp.join(REPO_ROOT, args.data_root)
    # Fail here, not in every child, on a wrong --data-root.
    list_split(args.data_root, args.train_prefix)
    list_split(args.data_root, args.test_prefix)

    t0 = time.perf_counter()
    results = []
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [REPO_ROOT,
                                                      env.get('PYTHONPATH')]))
    for method in args.methods:
        method_dir = osp.join(args.work_dir, method)
        os.makedirs(method_dir, exist_ok=True)
        result_file = osp.join(method_dir, 'result.json')
        if osp.exists(result_file):
            os.remove(result_file)
        log_file = osp.join(method_dir, 'compare.log')
        print(f'[compare] {method}: training ({args.config_of[method]}), '
              f'log in {log_file}', flush=True)
        start = time.perf_counter()
        with open(log_file, 'w') as log:
            proc = subprocess.run(child_command(args, method), stdout=log,
                                  stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        if proc.returncode != 0 or not osp.exists(result_file):
            with open(log_file) as f:
                tail = f.read()[-3000:]
            print(f'[compare] {method} FAILED (exit {proc.returncode}); log tail:\n'
                  f'{tail}', file=sys.stderr, flush=True)
            last = [l for l in tail.strip().splitlines() if l.strip()][-1:] or ['?']
            results.append(dict(method=method, name=METHOD_NAMES.get(method, method),
                                config=args.config_of[method],
                                error=last[0].strip()[:120].replace('|', '/')))
            continue
        with open(result_file) as f:
            result = json.load(f)
        results.append(result)
        # Rewrite the table after every method, so an interrupted run keeps what it
        # measured.
        write_report(args, results, command, started, time.perf_counter() - t0)
        print(f'[compare] {method}: top-1 {result["top1"]:.2f}%, ECE '
              f'{result["ece"]:.2f}%, {1000 * result["sec_per_image"]:.2f} ms/image, '
              f'{time.perf_counter() - start:.0f} s', flush=True)

    report = write_report(args, results, command, started, time.perf_counter() - t0)
    plots = [] if args.no_plot else plot_results(args, results)
    print(report)
    for path in plots:
        print(f'[compare] wrote {path}')
    return 1 if any('error' in r for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
