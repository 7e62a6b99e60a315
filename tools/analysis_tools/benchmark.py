# Training and inference speed of one or more configs (any method), side by side:
#   python tools/analysis_tools/benchmark.py configs/ce/resnet18-w16_1xb64_cifar10-jpg.py \
#       configs/cds/resnet18-w16_1xb64_cifar10-jpg.py --switches eager channels_last amp
# Each config is built with Runner.from_cfg as tools/train.py builds it (its own data
# loader, data preprocessor, optimizer wrapper, compile setting); the rows take turns
# in interleaved rounds and a minimal plain-PyTorch CDS step (same math, same initial
# weights) runs beside them. Prints a markdown table: step and data time, images per
# second, ratios to CE / the plain step / eager, peak memory, predict-mode latency.
# See docs/benchmark.md.
import argparse
import time

import torch
from mmengine.config import DictAction

import mmcds  # noqa: F401  registers mmcds modules
from mmcds.experiments.benchmark import (METHOD_NAMES, build_rows, config_label,
                                         first_steps, format_table,
                                         machine_description, parse_switch,
                                         prepare_config, run_rounds, switch_name)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time training steps, data loading and inference of configs')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--switches', nargs='+', default=['eager'],
        help='switch sets to measure, each a row per config: eager, channels_last, '
        'amp, compile, compile=<torch.compile mode> (e.g. compile=reduce-overhead: '
        'CUDA graphs), or a "+" of them (e.g. channels_last+amp)')
    parser.add_argument('--amp', action='store_true',
                        help='add amp to every switch set (as tools/train.py --amp: '
                        'bfloat16 without loss scaling on the CPU and on GPUs with '
                        'native bfloat16, fp16 with scaling on other GPUs)')
    parser.add_argument('--compile-backend',
                        help='torch.compile backend of the compile switches (default: '
                        "torch's, inductor); 'eager' only traces")
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed training steps per row first')
    parser.add_argument('--steps', type=int, default=3,
                        help='timed training steps per row and round')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved rounds')
    parser.add_argument('--predict-steps', type=int, default=3,
                        help='timed predict-mode batches per row and round (0: none)')
    parser.add_argument('--batch-size', type=int,
                        help='images per training and predict batch (default: the '
                        "config's)")
    parser.add_argument('--num-workers', type=int,
                        help="dataloader workers (default: the config's); 0 makes "
                        'the data column the full cost of the pipeline')
    parser.add_argument('--data-root',
                        help='class-folder data set (train/, test/) to point the '
                        'configs at, e.g. ../shared/data/cifar10')
    parser.add_argument('--train-subset', type=int,
                        help='with --data-root: images of the train split to use')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads')
    parser.add_argument('--no-reference', action='store_true',
                        help='leave out the plain-PyTorch CDS reference row')
    parser.add_argument('--work-dir', help='where the runners write (default: a '
                        'temporary folder)')
    parser.add_argument('--out', help='also write the table (markdown) here')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of every config, xxx=yyy as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    switches = [parse_switch(s) for s in args.switches]
    if args.amp:
        switches = [tuple(sorted(set(s) | {'amp'})) for s in switches]
    cfgs = {}
    for path in args.configs:
        cfg = prepare_config(path, args.cfg_options, args.data_root, args.train_subset,
                             args.batch_size, args.num_workers, args.work_dir)
        cfgs[config_label(path)] = cfg
    # Short labels (CE, CDS, ...) where the configs' methods tell them apart.
    methods = [METHOD_NAMES.get(c.model.type, c.model.type) for c in cfgs.values()]
    if len(set(methods)) == len(methods):
        cfgs = dict(zip(methods, cfgs.values()))
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    header = f'{started}; {machine_description()}'
    rows = build_rows(cfgs, switches, reference=not args.no_reference,
                      predict_batch_size=args.batch_size,
                      compile_backend=args.compile_backend)
    run_rounds(rows, args.warmup, args.steps, args.rounds, args.predict_steps)
    footer = f'after: {machine_description()}'
    switch_text = ', '.join(switch_name(s) for s in switches)
    text = '\n'.join([
        header, f'switches: {switch_text}; warm-up {args.warmup}, {args.rounds} rounds '
        f'x {args.steps} steps, {args.predict_steps} predict batches per row and round',
        '', format_table(rows), '', first_steps(rows), footer])
    print(text, flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return text


if __name__ == '__main__':
    main()
