"""Train CE, DSN, DKS, SelfCon and CDS the same way and measure them side by side.

Every method starts from its CIFAR config (same backbone, data, schedule and seed;
they differ only in what the method itself changes) and is trained once per seed
(``--seeds``), each run in a subprocess of its own (so that its peak memory is its
own; ``--jobs`` runs several at once). Each run is then tested on the test split.
Written to ``--work-dir``:

- ``results.md``: command, machine and date; per method the mean ± sd over seeds of
  top-1, ECE, NLL and Brier score (and, with ``--calibration-holdout``, ECE / NLL
  after temperature scaling with T fitted on held-out training images); the paired
  difference to CE over the seeds with its 95% interval and width; a cost table
  (training and inference FLOPs per image, parameters at train / test time, train
  time per image, memory); every run's top-1 / ECE;
- ``comparison.png``: bars (mean, sd as error bars) of top-1 / ECE / time / memory
  and the training cross-entropy curves; ``reliability.png``: a reliability diagram
  per method;
- ``<method>/seed<s>/result.json``, ``calibration.npz`` (per-sample test scores and
  labels) and the runner's logs and checkpoint.

Default: ../shared/data/cifar10 (train/ and test/ class folders, 10,000 + 10,000
32x32 JPEGs), the narrow ResNet-18 (width 16). Any class-folder data set works via
``--data-root`` (with ``--train-prefix`` / ``--test-prefix``; images are used at
their size, add ``--resize 32`` for larger ones).

The configs' SGD + cosine schedule is stretched over ``--epochs`` and stepped every
iteration; validation is off during training.

Example::

    python tools/compare_methods.py --epochs 6
    python tools/compare_methods.py --methods ce dsn dks selfcon cds \
        --seeds 0 1 2 3 4 --seeds-for dsn=0,1,2 dks=0,1,2 selfcon=0,1,2 \
        --calibration-holdout 500 --jobs 2
    python tools/compare_methods.py --methods ce cds --train-subset 200 \
        --test-subset 100 --epochs 1 --work-dir work_dirs/compare_tiny

Distillation: train the width-32 CDS teacher first, then the students that learn
from it (classic KD and distilled CDS) next to CE and CDS::

    python tools/compare_methods.py --methods cds_w32 --work-dir work_dirs/teacher
    python tools/compare_methods.py --methods ce cds kd cds_kd \
        --teacher-checkpoint work_dirs/teacher/cds_w32/seed0/epoch_6.pth

"Train seconds per image" is the wall time of ``runner.train()`` (data loading,
forward, backward, step, logging; no validation) divided by the images seen; CDS
sees each image as two views and is counted once per image. On the CPU, memory is
the growth of the training process's peak resident set size (``ru_maxrss``) during
training; on CUDA it is ``torch.cuda.max_memory_allocated`` during training. With
``--jobs`` > 1 the runs share the machine, so their times are comparable with each
other but not with a run alone.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)

from mmcds.experiments.comparison import (DEFAULT_EPOCHS, DEFAULT_METHODS,  # noqa: E402
                                          METHOD_CONFIGS, run_comparison, run_one)
from mmcds.experiments.comparison_sweep import run_sweep  # noqa: E402
from mmcds.experiments.config_edit import add_class_folder_args  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and compare CE, DSN, DKS, SelfCon and CDS on the same data',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--methods', nargs='+', default=DEFAULT_METHODS,
                        help=f'methods to run, from {sorted(METHOD_CONFIGS)}')
    parser.add_argument('--config', nargs='+', default=[], metavar='METHOD=PATH',
                        help='use another config for a method (e.g. another '
                        'backbone); the overrides below still apply')
    add_class_folder_args(parser)
    parser.add_argument('--resize', type=int, default=None,
                        help='resize every image to this square size first')
    parser.add_argument('--epochs', type=int, nargs='+', default=[DEFAULT_EPOCHS],
                        help='training epochs (the schedule is stretched to fit); '
                        'several values run an epoch sweep: one comparison per '
                        'value in <work-dir>/e<N>/ and the differences against the '
                        'epoch count in <work-dir>/sweep.md')
    parser.add_argument('--val-interval', type=int, default=1,
                        help='test top-1 every N epochs during training, to report '
                        'the best epoch beside the final one (the authors report '
                        'the best); 0: no validation during training')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="train batch size (default: the configs' 64)")
    parser.add_argument('--seeds', '--seed', type=int, nargs='+', default=[0],
                        help='train every method once per seed; the table gives mean '
                        '± sd over seeds and paired differences to CE')
    parser.add_argument('--seeds-for', nargs='+', default=[], metavar='METHOD=S,S',
                        help='other seeds for some methods, e.g. dsn=0,1,2 (a '
                        'subset of --seeds keeps them paired with CE)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time, each in its own process (with '
                        '--threads torch threads)')
    parser.add_argument('--head-to-head', nargs='+', default=[], metavar='A:B',
                        help='also compare these pairs of methods with each other '
                        '(paired by seed, e.g. cds:dks cds:dsn); every method is '
                        'compared with CE, and the p-values of all comparisons of '
                        'a metric are corrected together (Holm)')
    parser.add_argument('--calibration-holdout', type=int, default=None,
                        metavar='N', help='hold out N training images (spread over '
                        'the classes, the same for every run), fit a temperature on '
                        'them after training and report the test calibration after '
                        'temperature scaling')
    parser.add_argument('--resume', action='store_true',
                        help='keep the result.json of runs that already finished in '
                        '--work-dir instead of training them again')
    parser.add_argument('--train-subset', type=int, default=None,
                        help='use this many training images, spread evenly over '
                        'the (class-sorted) list, e.g. for a quick check')
    parser.add_argument('--test-subset', type=int, default=None)
    parser.add_argument('--teacher-checkpoint', default=None,
                        help='for the distillers (kd, cds_kd): the teacher\'s '
                        'checkpoint, e.g. work_dirs/compare/cds_w32/seed0/epoch_6.pth '
                        'from a run of --methods cds_w32 (sets '
                        'model.teacher_checkpoint)')
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
    args.seeds_of = {method: list(args.seeds) for method in args.methods}
    for item in args.seeds_for:
        method, sep, seeds = item.partition('=')
        if not sep or method not in args.seeds_of:
            parser.error(f'--seeds-for takes METHOD=S,S,... for a method of --methods, '
                         f'got {item!r}')
        try:
            args.seeds_of[method] = [int(s) for s in seeds.split(',') if s.strip()]
        except ValueError:
            parser.error(f'--seeds-for {item!r}: seeds must be integers')
    if any(len(set(s)) != len(s) or not s for s in args.seeds_of.values()):
        parser.error(f'--seeds / --seeds-for: each method needs distinct seeds, got '
                     f'{args.seeds_of}')
    args.epoch_counts = args.epochs
    if len(set(args.epoch_counts)) != len(args.epoch_counts):
        parser.error(f'--epochs lists a value twice: {args.epoch_counts}')
    if any(e < 1 for e in args.epoch_counts):
        parser.error(f'--epochs must be >= 1, got {args.epoch_counts}')
    args.epochs = args.epoch_counts[0]
    if args.val_interval < 0:
        parser.error(f'--val-interval must be >= 0, got {args.val_interval}')
    pairs = []
    for item in args.head_to_head:
        first, sep, second = item.partition(':')
        if not sep or first not in args.methods or second not in args.methods \
                or first == second:
            parser.error(f'--head-to-head takes A:B with two different methods of '
                         f'--methods {args.methods}, got {item!r}')
        pairs.append((first, second))
    args.head_to_head = pairs
    for name in ('train_subset', 'test_subset', 'num_bins', 'batch_size',
                 'jobs', 'calibration_holdout'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    if args.threads < 0:
        parser.error(f'--threads must be >= 0, got {args.threads}')
    if args.num_workers < 0:
        parser.error(f'--num-workers must be >= 0, got {args.num_workers}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.run_one:
        run_one(args)
        return 0
    argv = sys.argv[1:] if argv is None else argv
    if len(args.epoch_counts) > 1:
        return run_sweep(args, argv, __file__)
    return run_comparison(args, argv, __file__)


if __name__ == '__main__':
    sys.exit(main())
