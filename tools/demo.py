# The main job (`make demo`): on scikit-learn's bundled handwritten digits (no download),
# train a cross-entropy and a CDS classifier side by side (same tiny ResNet, epochs and
# seed), evaluate both, convert both backbones, fine-tune a small Faster R-CNN from each
# on digit canvases (COCO format; same schedule, seed and data), evaluate COCO bbox mAP;
# all of it for three seeds, two runs at a time. Prints one table (CE, CDS, CDS - CE as
# mean ± sd over the seeds, and CDS - CE seed by seed); plots (reliability diagrams of
# both classifiers included) and the table land in the work dir. About 5 minutes on an
# idle 2-core CPU (an estimate: docs/notes.md).
#
# Real data instead of the digits:
#   tools/demo.py --cls-data ../shared/data/cifar10 --det-data ../shared/data/coco128
import argparse

import torch

import mmcds  # noqa: F401  registers mmcds modules
from mmcds.demo.run import run_demo


def parse_args():
    parser = argparse.ArgumentParser(description='mmcds end-to-end demo')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where data, logs, checkpoints, table and plots go')
    parser.add_argument('--cls-data', help='class-folder data set with train/ and test/ '
                        '(default: the embedded digits)')
    parser.add_argument('--det-data', help='COCO-format data set with train2017/, '
                        'val2017/ and annotations/ (default: digit canvases)')
    parser.add_argument('--cls-epochs', type=int, default=12)
    parser.add_argument('--det-epochs', type=int, default=5)
    parser.add_argument('--det-scale', type=int,
                        help='detector input size (default 128 on digits, 320 otherwise)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='one CE, one CDS classifier and their two detectors per '
                        'seed; the table gives mean ± sd over the seeds (default 0 1 2)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs trained at a time, each in a process of its own '
                        '(default 2, one per core of a 2-core machine; 1: one after '
                        'another in this process)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads per run (default 1: these tiny models '
                        'run faster on one thread than on OpenMP threads fighting for '
                        'a shared core)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 1 epoch each, 256 training digits, 24 canvases')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.jobs < 1 or args.threads < 1:
        raise SystemExit(f'--jobs and --threads must be at least 1, got {args.jobs} '
                         f'and {args.threads}')
    torch.set_num_threads(args.threads)
    cls_epochs, det_epochs = (1, 1) if args.quick else (args.cls_epochs, args.det_epochs)
    run_demo(work_dir=args.work_dir, cls_data=args.cls_data, det_data=args.det_data,
             cls_epochs=cls_epochs, det_epochs=det_epochs, det_scale=args.det_scale,
             quick=args.quick, seeds=args.seeds, jobs=args.jobs, threads=args.threads)


if __name__ == '__main__':
    main()
