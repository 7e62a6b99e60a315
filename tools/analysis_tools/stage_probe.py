"""Linear probe and t-SNE of every backbone stage, for one or more checkpoints.

For each ``--model NAME CONFIG CHECKPOINT`` (any of our classifiers, a distiller,
or a plain mmpretrain ``ImageClassifier`` config such as
``mmpretrain::resnet/resnet18_8xb16_cifar10.py``; ``none`` as the checkpoint: random
init), every backbone stage's output is average-pooled on the class-folder data set
under ``--data-root`` (the config's test pipeline and preprocessor), a logistic
regression is fitted on the train split's features and scored on the test split.
Written to ``--work-dir``: ``stage_probe.md`` (table model x stage, with command,
machine and date), ``stage_probe.json``, ``probe_accuracy.png`` (a line per model)
and ``tsne.png`` (rows = models, columns = stages).

A NAME given several times (e.g. one checkpoint per seed) makes the report add mean
± sd per stage over that name's models and, for every other name, the paired
difference to the first name (k-th model with k-th model, e.g. the same seed) with
a 95% interval; the plot then draws one line per name (mean ± sd) and the t-SNE
grid one row per name (its first model).

Example::

    python tools/analysis_tools/stage_probe.py \
        --model CE configs/ce/resnet18-w16_1xb64_cifar10-jpg.py work_dirs/ce/epoch_30.pth \
        --model CDS configs/cds/resnet18-w16_1xb64_cifar10-jpg.py \
            work_dirs/cds/epoch_30.pth \
        --work-dir work_dirs/stage_probe
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)

from mmcds.experiments.config_edit import add_class_folder_args  # noqa: E402
from mmcds.experiments.stage_probe import run_stage_probe  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Linear-probe top-1 and t-SNE of every backbone stage',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                        help="a model to probe (repeat for several); CHECKPOINT "
                        "'none': randomly initialised")
    add_class_folder_args(parser)
    parser.add_argument('--max-train', type=int, default=None,
                        help='use this many train images, spread evenly over the '
                        '(class-sorted) list so that every class is present')
    parser.add_argument('--max-test', type=int, default=None)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--probe-c', type=float, default=1.0,
                        help='inverse L2 strength of the logistic regression')
    parser.add_argument('--probe-max-iter', type=int, default=1000)
    parser.add_argument('--tsne-samples', type=int, default=1000,
                        help='test points per t-SNE (spread over the classes); 0: '
                        'no t-SNE')
    parser.add_argument('--seed', type=int, default=0,
                        help='t-SNE and random-init seed')
    parser.add_argument('--device', default=None,
                        help='default: cuda if available, else cpu')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch and BLAS threads; 0 lets them pick')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'stage_probe'))
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of every model\'s config, as in tools/test.py')
    args = parser.parse_args(argv)
    repeated = {m[0]: m[2] for m in args.model if
                sum(n == m[0] and c == m[2] for n, _, c in args.model) > 1}
    if repeated:
        parser.error(f'--model: the same name and checkpoint twice: {repeated} (a '
                     'name may repeat, once per seed, with other checkpoints)')
    for name in ('max_train', 'max_test', 'batch_size', 'probe_max_iter'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {value}')
    for name in ('tsne_samples', 'threads', 'num_workers'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    if args.probe_c <= 0:
        parser.error(f'--probe-c must be > 0, got {args.probe_c}')
    if args.device is None:
        import torch
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    return run_stage_probe(args, sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    main()
