"""Checks that a detector's ``Pretrained`` checkpoints will load.

Checks that a detector's ``Pretrained`` init configs name a checkpoint that will
load: on a config before anything is built (:func:`check_config_checkpoints`, for
``tools/train.py``) and on a built model (:func:`check_all`, for
:class:`~mmcds.det.PretrainedCheckHook`)."""
import os
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import torch.nn as nn

from mmcds.utils.checkpoint import (CheckpointError, infer_resnet_arch,
                                    load_checkpoint_file, names_of)

# The hook whose presence in custom_hooks turns the config check on.
CHECK_HOOK_TYPE = 'PretrainedCheckHook'


def pretrained_inits(model: nn.Module) -> Iterator[Tuple[str, nn.Module, dict]]:
    """Every ``Pretrained`` init config of a model, with its config field.

    Every ``init_cfg`` of ``type='Pretrained'`` in ``model``, as
    ``(config field, module, init_cfg)``; the field is the dotted config path, e.g.
    ``'model.backbone.init_cfg'`` for ``model.backbone``."""
    for name, module in model.named_modules():
        init_cfgs = getattr(module, 'init_cfg', None)
        if isinstance(init_cfgs, dict):
            init_cfgs = [init_cfgs]
        for init_cfg in init_cfgs or []:
            if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
                yield '.'.join(filter(None, ['model', name, 'init_cfg'])), module, \
                    init_cfg


def check_checkpoint_file(field: str, checkpoint, hint: str = '') -> bool:
    """Raise, naming ``{field}.checkpoint``, if it is unset or a missing local file.

    Returns:
        bool: True for a local file (checked), False for a remote one (``xxx://``).
    """
    set_it = f'--cfg-options {field}.checkpoint=PATH'
    if not checkpoint:
        raise ValueError(f'{field}.checkpoint is not set: pass the pretrained '
                         f'checkpoint with {set_it}, or {field}=None to train from '
                         f'scratch. {hint}'.strip())
    if not isinstance(checkpoint, str):
        raise TypeError(f'{field}.checkpoint must be a path, got {checkpoint!r}')
    if '://' in checkpoint:
        return False
    if not osp.isfile(osp.expanduser(checkpoint)):
        raise FileNotFoundError(
            f"{field}.checkpoint: no such file '{checkpoint}' (relative paths start "
            f'from {os.getcwd()}). Pass the checkpoint with {set_it}. {hint}'.strip())
    return True


def check_config_checkpoints(cfg) -> None:
    """Check every ``Pretrained`` checkpoint file of a config before anything is built.

    The file part of :class:`PretrainedCheckHook` on a config, before anything is
    built: every ``init_cfg`` of ``type='Pretrained'`` under ``cfg.model`` must name an
    existing file. For ``tools/train.py``, so that a wrong path fails in the first
    second rather than after the datasets are loaded; no-op without the hook in
    ``custom_hooks`` (the hook's ``hint`` is used in the message)."""
    hooks = [h for h in cfg.get('custom_hooks', None) or []
             if getattr(h.get('type'), '__name__', h.get('type')) == CHECK_HOOK_TYPE]
    if not hooks:
        return
    hint = hooks[0].get('hint', '')

    def walk(node, path):
        """Check the Pretrained init_cfgs under ``node`` (config path ``path``)."""
        if isinstance(node, dict):
            init_cfgs = node.get('init_cfg')
            for init_cfg in init_cfgs if isinstance(init_cfgs, list) else [init_cfgs]:
                if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
                    check_checkpoint_file(f'{path}.init_cfg', init_cfg.get('checkpoint'),
                                          hint)
            for key, value in node.items():
                if key != 'init_cfg':
                    walk(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for index, value in enumerate(node):
                walk(value, f'{path}.{index}')

    walk(cfg.get('model'), 'model')


def check_pretrained_init(field: str, module: nn.Module, init_cfg: dict,
                          strict: bool = True, hint: str = '') -> Optional[str]:
    """Check that ``init_cfg`` (``type='Pretrained'``) will load into ``module``.

    mmengine's ``PretrainedInit`` loads with ``strict=False``: a missing file surfaces
    as a bare ``FileNotFoundError`` and a checkpoint of another architecture as
    "size mismatch" warnings, after which training runs on random weights. This raises
    instead, naming the config field.

    Args:
        field (str): config path of ``init_cfg``, e.g. ``'model.backbone.init_cfg'``.
        module (nn.Module): the module ``init_cfg`` initialises.
        init_cfg (dict): ``dict(type='Pretrained', checkpoint=..., prefix=...)``.
        strict (bool): also fail when tensors of ``module`` are missing from the
            checkpoint (set False for backbones with extra layers, e.g. DCN).
        hint (str): appended to the message for a missing file.

    Returns:
        str | None: a summary to log, or None for a remote checkpoint (``xxx://``),
        which is not checked.

    Raises:
        ValueError: ``checkpoint`` is not set.
        FileNotFoundError: the file does not exist.
        CheckpointError: not a checkpoint, no ``prefix`` tensors, or they do not fit.
    """
    checkpoint = init_cfg.get('checkpoint')
    prefix = init_cfg.get('prefix')
    if not check_checkpoint_file(field, checkpoint, hint):
        return None
    try:
        state_dict = load_checkpoint_file(
            osp.expanduser(checkpoint), require_backbone=False)['state_dict']
    except CheckpointError as error:
        raise CheckpointError(f'{field}.checkpoint: {error}') from error

    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        loaded = {k[len(prefix):]: v for k, v in state_dict.items()
                  if k.startswith(prefix)}
    else:
        loaded = state_dict
    expected = module.state_dict()
    if not loaded:
        bare = any(k in expected for k in state_dict)
        raise CheckpointError(
            f"{field}: '{checkpoint}' has no tensor starting with {field}.prefix="
            f"'{prefix}'" + (f'; its keys are those of {type(module).__name__} '
                             f'itself, so set {field}.prefix=None' if bare else
                             f' (its top-level names: {names_of(state_dict)})'))
    missing = [k for k in expected if k not in loaded and 'num_batches_tracked' not in k]
    mismatched = [f'{k}: checkpoint {tuple(loaded[k].shape)} vs model '
                  f'{tuple(v.shape)}' for k, v in expected.items()
                  if k in loaded and loaded[k].shape != v.shape]
    if mismatched or (strict and missing):
        raise CheckpointError(
            f"{field}: '{checkpoint}' (prefix {prefix!r}) does not fit "
            f'{field[:-len(".init_cfg")]} ({type(module).__name__}): '
            f'{len(mismatched)} tensors of another shape {mismatched[:3]}, '
            f'{len(missing)} missing {missing[:3]}. '
            f'{_describe(loaded, expected)}'.rstrip())
    matched = len([k for k in expected if k in loaded])
    unused = len([k for k in loaded if k not in expected])
    return (f"{field}: {matched}/{len(expected)} tensors of "
            f"{field[:-len('.init_cfg')]} found in '{checkpoint}' (prefix {prefix!r})"
            + (f', {len(missing)} missing' if missing else '')
            + (f', {unused} unused' if unused else '')
            + f"; mmengine loads them as 'load {prefix} in model from: {checkpoint}'")


def check_all(model: nn.Module, strict: bool = True, hint: str = '') -> List[str]:
    """:func:`check_pretrained_init` for every ``Pretrained`` init_cfg of ``model``."""
    lines = []
    for field, module, init_cfg in pretrained_inits(model):
        line = check_pretrained_init(field, module, init_cfg, strict, hint)
        lines.append(line or f"{field}: remote checkpoint '{init_cfg['checkpoint']}' "
                     'not checked')
    return lines


def _describe(loaded: dict, expected: dict) -> str:
    try:
        source, target = infer_resnet_arch(loaded), infer_resnet_arch(expected)
    except CheckpointError:
        return ''
    text = f'The checkpoint holds {source}; the model is {target}.'
    if source.stem == '3x3' and target.stem != '3x3':
        text += (" A 3x3 stem is mmpretrain's ResNet_CIFAR: pretrain with "
                 "type='ResNet' for detection transfer.")
    return text
