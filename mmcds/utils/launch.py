"""Helpers shared by tools/train.py and tools/test.py.

Helpers shared by tools/train.py and tools/test.py (the parts mmpretrain's and
mmdet's tools do inline), and the ``--cfg-options`` merge of every tool."""
import difflib
import os
import os.path as osp
from copy import deepcopy
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict


def default_work_dir(cfg: Config, config_path: str, work_dir=None) -> str:
    """CLI > ``work_dir`` in the file > ``work_dirs/<config name>``."""
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir', None) is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def config_scope(cfg: Config) -> str:
    """The config's default scope; mmpretrain when it sets none."""
    return cfg.get('default_scope', None) or 'mmpretrain'


def apply_dataloader_defaults(cfg: Config, fields, defaults: dict,
                              overrides: dict) -> None:
    """Fill mmpretrain's dataloader defaults under the config's values.

    Fill mmpretrain's dataloader defaults (e.g. ``default_collate``) under what the
    config sets, then force ``overrides`` (from ``--no-pin-memory`` and the like)."""
    for field in fields:
        if cfg.get(field, None) is None:
            continue
        dataloader_cfg = ConfigDict(deepcopy(defaults))
        dataloader_cfg.update(cfg[field])
        dataloader_cfg.update(overrides)
        cfg[field] = dataloader_cfg


def apply_tool_dataloader_defaults(cfg: Config, fields, training: bool,
                                   no_pin_memory: bool = False,
                                   no_persistent_workers: bool = False) -> None:
    """The dataloader defaults of tools/train.py (``training``) and tools/test.py.

    Under what the config sets: ``pin_memory=True``, for training also
    ``persistent_workers=True``, and for mmpretrain-scope configs mmpretrain's
    ``default_collate`` (mmdet's detectors need mmengine's ``pseudo_collate``, so
    they keep theirs); ``no_pin_memory`` / ``no_persistent_workers`` (the tools'
    ``--no-*`` flags) force those off."""
    defaults = dict(pin_memory=True)
    if training:
        defaults['persistent_workers'] = True
    if config_scope(cfg) == 'mmpretrain':
        defaults['collate_fn'] = dict(type='default_collate')
    overrides = {}
    if no_pin_memory:
        overrides['pin_memory'] = False
    if no_persistent_workers:
        overrides['persistent_workers'] = False
    apply_dataloader_defaults(cfg, fields, defaults, overrides)


def setup_cpu_distributed(cfg: Config) -> None:
    """Make ``--launcher pytorch`` work without CUDA.

    mmengine's launcher calls ``torch.cuda.set_device`` and hands ``device_ids`` to
    DDP, both of which fail on a CPU-only machine. Here the process group is started
    with gloo before the runner exists (mmengine then leaves it alone) and DDP gets
    ``device_ids=None``, as torch requires for CPU modules.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', ConfigDict())
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    wrapper_cfg = cfg.get('model_wrapper_cfg', None) or ConfigDict(
        type='MMDistributedDataParallel')
    wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    if cfg.launcher == 'pytorch' and not torch_dist.is_initialized():
        os.environ.setdefault('LOCAL_RANK', '0')
        torch_dist.init_process_group(backend='gloo')


def use_amp(cfg: Config) -> None:
    """What ``--amp`` does to ``cfg.optim_wrapper`` (tools/train.py, benchmark.py):
    :func:`mmcds.engine.amp.use_amp` (bfloat16 without loss scaling where the GPU has
    it, fp16 with dynamic scaling on other GPUs and for detectors, bfloat16 on the CPU)."""
    from ..engine.amp import use_amp as amp
    amp(cfg)


# Top-level fields the runner (Runner.from_cfg, Runner.__init__) and the tools read
# that a config need not set itself.
RUNNER_FIELDS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg',
    'log_processor', 'log_level', 'visualizer', 'default_scope', 'randomness',
    'experiment_name', 'model_wrapper_cfg', 'compile', 'runner_type', 'custom_imports',
    'tta_model', 'tta_pipeline', 'find_unused_parameters', 'sync_bn',
    'activation_checkpointing', 'efficient_conv_bn_eval')


def merge_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """``cfg.merge_from_dict(options)`` (the tools' ``--cfg-options``), refusing a
    top-level key that neither the config nor the runner knows.

    mmengine merges any key: a typo such as ``train_dataloder.batch_size=4`` adds a
    field nothing reads, and the run goes on with the config's batch size. The error
    names the key and the closest known one.

    Raises:
        ValueError: an unknown top-level key.
    """
    if not options:
        return
    known = set(cfg.keys()) | set(RUNNER_FIELDS)
    for option, value in options.items():
        key = option.split('.', 1)[0]
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else \
            'the config has no such field and the runner reads none'
        raise ValueError(
            f"--cfg-options {option}={value}: unknown top-level key '{key}' ({hint}); it "
            'would be added and silently ignored: fix the key')
    cfg.merge_from_dict(options)
