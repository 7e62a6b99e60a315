# List every unreadable, empty or missing image (and every empty class folder) of the
# data sets a config trains and evaluates on, before a long run finds them one by one.
# Works for class-folder sets (mmpretrain CustomDataset/ImageNet) and COCO sets
# (mmdet CocoDataset: annotation json + image folder).
#
#   python tools/misc/check_data.py configs/cds/resnet50_8xb32_in1k.py --workers 8
#
# Exit status: 0 when every file loads, 1 when problems were found (listed on stdout).
import argparse
import sys

from mmengine.config import Config, DictAction

import mmcds  # noqa: F401  registers mmcds modules
from mmcds.datasets import check_config_data
from mmcds.utils.launch import merge_cfg_options


def parse_args():
    parser = argparse.ArgumentParser(
        description='List unreadable/missing images of the data sets of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'],
                        help='which dataloaders to check (default: all three)')
    parser.add_argument('--no-decode', action='store_true',
                        help='only check that files exist and are not empty '
                        '(fast); by default every image is decoded')
    parser.add_argument('--workers', type=int, default=0,
                        help='processes that decode in parallel (default: 0, '
                        'this process)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    merge_cfg_options(cfg, args.cfg_options)
    report, total = check_config_data(cfg, args.splits, decode=not args.no_decode,
                                      workers=args.workers, shard=(0, 1))
    print(report)
    if total:
        print(f'check_data: {total} problem(s) found; fix or remove these files '
              'before training')
        sys.exit(1)
    print('check_data: every image loads')


if __name__ == '__main__':
    main()
