# Train a model with mmcds: mmpretrain's tools/train.py with the same flags, for
# mmpretrain-scope configs (classifiers) and mmdet-scope configs (detectors) alike;
# the config's default_scope decides.
import argparse
import os
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmcds  # noqa: F401  registers mmcds modules, allow-lists checkpoint types
from mmcds.utils.checkpoint import (CheckpointError, check_checkpoint_file,
                                   describe_skipped, resumable_checkpoint)
from mmcds.utils.launch import (apply_tool_dataloader_defaults, config_scope,
                                default_work_dir, merge_cfg_options,
                                setup_cpu_distributed, use_amp)
from mmcds.utils.mmcv_ops import check_mmcv_ops_for_device
from mmcds.utils.work_dir_lock import hold_work_dir


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training (bfloat16 autocast '
        'on machines without CUDA)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='whether not to evaluate the checkpoint during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the '
        'actual batch size and the original batch size.')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.')
    parser.add_argument(
        '--check-data',
        nargs='?',
        const='decode',
        choices=['decode', 'exists'],
        help='before training, list every unreadable (decode, the default) or '
        'missing/empty (exists) image and empty class folder of the train and val '
        'data sets, and stop if there is any (see tools/misc/check_data.py)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank, torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments to config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)

    if args.amp:
        use_amp(cfg)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    apply_tool_dataloader_defaults(
        cfg, ['train_dataloader', 'val_dataloader', 'test_dataloader'], training=True,
        no_pin_memory=args.no_pin_memory,
        no_persistent_workers=args.no_persistent_workers)

    merge_cfg_options(cfg, args.cfg_options)
    return cfg


def check_data(cfg, args):
    """Scan the train (and val) data sets before anything is trained; stop with
    the list of bad files. Under torchrun each process checks its share."""
    from mmcds.datasets import check_config_data
    splits = ['train'] if args.no_validate else ['train', 'val']
    workers = cfg.train_dataloader.get('num_workers', 0)
    report, total = check_config_data(cfg, splits, decode=args.check_data == 'decode',
                                      workers=workers)
    print(report, flush=True)
    if total:
        raise SystemExit(f'tools/train.py --check-data: {total} unreadable, missing '
                         'or empty file(s)/folder(s), listed above; fix or remove '
                         'them before training')


def resume_from(cfg, args):
    """Check what ``--resume`` goes on from, before the runner loads it.

    ``--resume PATH``: the file must load (else an error naming it). ``--resume``:
    when ``last_checkpoint`` names a file that is missing or does not load (a
    truncated save), the newest checkpoint in the work directory that loads is taken
    instead (``cfg.load_from``); returns the message saying which were skipped and
    why. No checkpoint that loads: an error naming them."""
    if args.resume is None:
        return None
    if args.resume != 'auto':
        check_checkpoint_file(args.resume, 'tools/train.py --resume checkpoint')
        return None
    candidate, skipped = resumable_checkpoint(cfg.work_dir)
    if not skipped:
        return None
    if candidate is None:
        raise CheckpointError(
            f'tools/train.py --resume: no checkpoint in {cfg.work_dir} loads: '
            f'{describe_skipped(skipped)}; resume from a complete checkpoint with '
            f'--resume PATH, or delete {os.path.join(cfg.work_dir, "last_checkpoint")} '
            'to start afresh')
    cfg.load_from = candidate
    return (f'tools/train.py --resume: skipped {describe_skipped(skipped)}; resuming '
            f'from {candidate}, the newest checkpoint in the work directory that loads')


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    # A run on CUDA with an mmcv built without CUDA ops stops now, saying how to rebuild.
    check_mmcv_ops_for_device(cfg)
    if config_scope(cfg) == 'mmdet':
        # A wrong pretrained path fails now, not after the datasets have loaded.
        from mmcds.det import check_config_checkpoints
        check_config_checkpoints(cfg)
    if args.check_data:
        check_data(cfg, args)
    # One run per work_dir (rank 0 holds it for all ranks); a second run stops here.
    with hold_work_dir(cfg.work_dir, ' '.join([os.path.basename(sys.executable),
                                               *sys.argv])):
        resumed_note = resume_from(cfg, args)
        setup_cpu_distributed(cfg)

        if 'runner_type' not in cfg:
            runner = Runner.from_cfg(cfg)
        else:
            runner = RUNNERS.build(cfg)
        if resumed_note:
            runner.logger.warning(resumed_note)
        runner.train()
    return runner


if __name__ == '__main__':
    main()
