# Convert a classifier checkpoint of ours (what tools/train.py writes for configs/cds/,
# dsn/, dks/, dhm/, selfcon/) to
#   mmpretrain:  a plain ImageClassifier checkpoint (backbone/neck/head only: projection
#                heads and exits gone)
#   backbone:    the backbone alone, 'backbone.' removed (for mmdet's/mmpretrain's ResNet)
#   torchvision: a bare state dict in torchvision.models.resnetN names (head.fc -> fc)
#
# Example:
#   python tools/model_converters/convert_cds_checkpoint.py \
#       work_dirs/resnet50_8xb32_in1k/epoch_90.pth cds_r50_backbone.pth \
#       --format backbone --depth 50
#
# The detection configs in configs/det/ read CDS checkpoints directly, so this is only
# needed for other code; a backbone-format file is used there with
#   --cfg-options model.backbone.init_cfg.checkpoint=FILE \
#                 model.backbone.init_cfg.prefix=None
import argparse
import sys

from mmcds.converters import FORMATS, convert_checkpoint
from mmcds.utils.checkpoint import RESNET_ARCHS, CheckpointError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a CDS classifier checkpoint for mmpretrain, mmdet or '
        'torchvision')
    parser.add_argument('src', help='CDS classifier checkpoint (.pth)')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--format',
        choices=FORMATS,
        default='backbone',
        help='mmpretrain: ImageClassifier checkpoint without the projection heads; '
        'backbone: backbone-only, prefix removed (default); torchvision: '
        'torchvision resnet key names')
    parser.add_argument(
        '--depth',
        type=int,
        choices=sorted(RESNET_ARCHS),
        help='expected ResNet depth; the conversion fails if the checkpoint holds '
        'another one')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = convert_checkpoint(args.src, args.dst, args.format, args.depth)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == '__main__':
    sys.exit(main())
