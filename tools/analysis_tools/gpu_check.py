# The GPU check (docs/benchmark.md, "GPU check"): environment, the CUDA tests, the
# benchmark tables, a Faster R-CNN iteration on mmcv's CUDA ops, SIGKILL + --resume
# bit-identity, within --budget seconds; markdown in --out. Run it through
# tools/analysis_tools/gpu_check.sh. --dry-run: the same steps on the CPU, tiny.
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Check mmcds on a CUDA machine and write markdown tables')
    parser.add_argument('--out', required=True, help='folder for the tables and logs')
    parser.add_argument('--dry-run', action='store_true',
                        help='the same steps on the CPU with tiny sizes (a rehearsal)')
    parser.add_argument('--budget', type=float, default=570,
                        help='seconds for all steps (default 570: the command ends '
                        'within 10 minutes); steps past it are reported skipped')
    parser.add_argument('--data-root',
                        help='class folders (train/<class>, test/<class>) for the '
                        'classification tables (default: generated digits)')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    sys.path.insert(0, REPO)  # this checkout's mmcds
    from mmcds.experiments.gpu_check import run_check
    text = run_check(REPO, args.out, dry_run=args.dry_run, budget=args.budget,
                     data_root=args.data_root)
    print(text, flush=True)
    return text


if __name__ == '__main__':
    main()
