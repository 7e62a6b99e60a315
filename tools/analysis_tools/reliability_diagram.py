# Reliability diagram and ECE of the predictions `tools/test.py CONFIG CKPT --out
# preds.pkl` dumps (pred_score and gt_label per sample; read without running code from
# the pickle), e.g.
#   python tools/analysis_tools/reliability_diagram.py preds.pkl --out reliability.png
import argparse

from mmcds.evaluation.reliability import (confidences_from_predictions,
                                          plot_reliability_diagram)
from mmcds.utils.safe_pickle import load_predictions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Reliability diagram from tools/test.py --out predictions')
    parser.add_argument('predictions', help='pickle written by tools/test.py --out')
    parser.add_argument('--out', default='reliability.png', help='PNG to write')
    parser.add_argument('--num-bins', type=int, default=15)
    parser.add_argument('--title', default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # read without running code from the pickle (a file from someone else)
    confidences, correct = confidences_from_predictions(
        load_predictions(args.predictions))
    stats = plot_reliability_diagram(confidences, correct, args.out, args.num_bins,
                                     args.title)
    print(f'ECE {100 * stats["ece"]:.2f}% over {len(confidences)} predictions '
          f'({args.num_bins} bins) -> {args.out}')


if __name__ == '__main__':
    main()
