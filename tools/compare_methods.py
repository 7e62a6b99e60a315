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

Distillation: train the width-32 CDS teacher first, then the students that learn
from it (classic KD and distilled CDS) next to CE and CDS::

    python tools/compare_methods.py --methods cds_w32 --work-dir work_dirs/teacher
    python tools/compare_methods.py --methods ce cds kd cds_kd \
        --teacher-checkpoint work_dirs/teacher/cds_w32/epoch_6.pth

"Train seconds per image" is the wall time of ``runner.train()`` (data loading,
forward, backward, step, logging; no validation) divided by the images seen; CDS
sees each image as two views and is counted once per image. On the CPU, peak memory
is the training process's peak resident set size (``ru_maxrss``, so it includes
the Python/torch baseline that every method shares; the growth during training is
reported too); on CUDA it is ``torch.cuda.max_memory_allocated`` during training.
"""
import argparse
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)

from mmcds.experiments.comparison import (DEFAULT_EPOCHS, DEFAULT_METHODS,  # noqa: E402
                                          METHOD_CONFIGS, run_comparison, run_one)
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
    parser.add_argument('--epochs', type=int, default=DEFAULT_EPOCHS)
    parser.add_argument('--batch-size', type=int, default=None,
                        help="train batch size (default: the configs' 64)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train-subset', type=int, default=None,
                        help='use this many training images, spread evenly over '
                        'the (class-sorted) list, e.g. for a quick check')
    parser.add_argument('--test-subset', type=int, default=None)
    parser.add_argument('--teacher-checkpoint', default=None,
                        help='for the distillers (kd, cds_kd): the teacher\'s '
                        'checkpoint, e.g. work_dirs/compare/cds_w32/epoch_6.pth from '
                        'a run of --methods cds_w32 (sets model.teacher_checkpoint)')
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


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.run_one:
        run_one(args)
        return 0
    return run_comparison(args, sys.argv[1:] if argv is None else argv, __file__)


if __name__ == '__main__':
    sys.exit(main())
