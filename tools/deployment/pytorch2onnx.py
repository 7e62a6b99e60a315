# Export a trained classifier of ours (CDS, DSN, DKS, SelfCon; what tools/train.py
# writes) to ONNX through the plain mmpretrain ImageClassifier it converts to (projection
# heads and exits dropped), and check the file against PyTorch with onnxruntime:
#   python tools/deployment/pytorch2onnx.py configs/cds/resnet50_8xb32_in1k.py \
#       work_dirs/resnet50_8xb32_in1k/epoch_90.pth --out cds_r50.onnx --shape 224
# Input "input" (N, 3, H, W), RGB normalised with the config's data_preprocessor
# mean/std; output "logits" (N, num_classes); N is dynamic. Needs onnx and onnxruntime
# for --verify (requirements/optional.txt).
import argparse
import sys

import mmcds  # noqa: F401  registers our classifiers
from mmcds.converters.onnx_export import (export_onnx, onnx_max_abs_diff,
                                          random_inputs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a classifier checkpoint to ONNX (plain ImageClassifier)')
    parser.add_argument('config', help='the training config of the checkpoint')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--out', default='model.onnx', help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs='+', default=[224],
                        help='input height and width (one value: square)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset version')
    parser.add_argument('--verify', action='store_true',
                        help='compare onnxruntime with PyTorch on random inputs of '
                        'batch 1 and 3')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest |onnxruntime - PyTorch| --verify accepts')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    size = args.shape * 2 if len(args.shape) == 1 else args.shape
    module = export_onnx(args.config, args.checkpoint, args.out, size, args.opset)
    print(f'wrote {args.out}: input (N, 3, {size[0]}, {size[1]}) -> logits '
          f'(N, {module.classifier.head.num_classes})')
    if args.verify:
        diff = onnx_max_abs_diff(args.out, module, random_inputs(size))
        print(f'onnxruntime vs PyTorch, batch 1 and 3: max |difference| {diff:.3g} '
              f'(atol {args.atol:g})')
        if diff > args.atol:
            print(f'error: {args.out} computes something else than the PyTorch model',
                  file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
