"""Safe checkpoint reading, checks that a checkpoint loads, ResNet architecture inference.

Reading model checkpoints safely, and what a ResNet state dict says about its
architecture: shared by the converters (``mmcds.converters``) and the detection checks
(``mmcds.det``). Whether a checkpoint file loads at all, and which checkpoint of a
work directory ``--resume`` can go on from: shared by ``tools/train.py``,
``tools/test.py`` and :class:`~mmcds.engine.ExactResumeHook`.

A checkpoint that mmengine's runner writes is a dict ``{'meta', 'state_dict',
'message_hub', 'optimizer', ...}``; :func:`load_checkpoint_file` reduces it (or a bare
state dict) to ``{'meta': dict, 'state_dict': OrderedDict}`` with
``torch.load(weights_only=True)``, so a file that would run code is refused.
"""
import glob
import os
import os.path as osp
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch

from .safe_checkpoint import register_safe_checkpoint_globals

# depth -> (block type, blocks per stage), as in ResNet.arch_settings (mmpretrain, mmdet)
RESNET_ARCHS = {
    18: ('BasicBlock', (2, 2, 2, 2)),
    34: ('BasicBlock', (3, 4, 6, 3)),
    50: ('Bottleneck', (3, 4, 6, 3)),
    101: ('Bottleneck', (3, 4, 23, 3)),
    152: ('Bottleneck', (3, 8, 36, 3)),
}

Checkpoint = Dict[str, dict]


class CheckpointError(ValueError):
    """A file that is not a checkpoint, or not one that fits the requested output."""


@dataclass(frozen=True)
class ResNetArch:
    """What a ResNet backbone's state dict says about its architecture.

    Attributes:
        depth (int | None): 18, 34, 50, 101 or 152; None if the blocks per stage match
            none of them.
        block (str): ``'BasicBlock'`` or ``'Bottleneck'``.
        stage_blocks (tuple[int]): blocks in ``layer1``, ``layer2``, ...
        stem (str): ``'7x7'`` (ImageNet ResNet: 7x7 stride-2 conv + max-pool),
            ``'3x3'`` (mmpretrain's ``ResNet_CIFAR``), ``'deep'`` (three 3x3 convs,
            ``ResNetV1c``/``ResNetV1d``) or ``'none'``.
        stem_channels (int): output channels of the stem.
        base_channels (int): width of the first stage's blocks (64 in torchvision).
    """
    depth: Optional[int]
    block: str
    stage_blocks: Tuple[int, ...]
    stem: str
    stem_channels: int
    base_channels: int

    def __str__(self) -> str:
        name = f'ResNet-{self.depth}' if self.depth else 'a non-standard ResNet'
        return (f'{name} ({self.block}, blocks per stage {self.stage_blocks}, '
                f'{self.stem} stem with {self.stem_channels} channels, '
                f'base_channels {self.base_channels})')


def load_checkpoint_file(path: str, require_backbone: bool = True) -> Checkpoint:
    """Read a checkpoint file into ``{'meta': dict, 'state_dict': OrderedDict}``.

    Accepts what mmengine's runner writes (``meta`` + ``state_dict`` + training state)
    and bare state dicts; the training state is left out. Loading uses
    ``torch.load(weights_only=True)``, with the types of mmengine checkpoints
    allow-listed, so a file that would run code is refused.
    A ``module.`` prefix (from a DDP-wrapped model) is stripped.

    Args:
        path (str): checkpoint file.
        require_backbone (bool): raise if no ``backbone.*`` key is present.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: not a PyTorch checkpoint, no state dict in it, or no backbone.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    register_safe_checkpoint_globals()
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises several types for a non-checkpoint
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ''
        raise CheckpointError(
            f'{path} is not a PyTorch checkpoint that can be loaded safely: torch.load '
            f'failed with {type(error).__name__}: {reason}') from error
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path} holds a {type(obj).__name__}, not a checkpoint '
                              "dict with a 'state_dict'")
    if 'state_dict' in obj:
        state_dict, meta = obj['state_dict'], obj.get('meta') or {}
    else:
        state_dict, meta = obj, {}
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(
            f"{path} is not a model checkpoint: it has no 'state_dict' of tensors "
            f'(top-level entries: {names_of(obj)})')
    state_dict = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    checkpoint = dict(meta=dict(meta), state_dict=state_dict)
    if require_backbone:
        backbone_of(checkpoint, path)
    return checkpoint


def backbone_of(checkpoint: Checkpoint, source: str = 'checkpoint',
                prefix: str = 'backbone.') -> 'OrderedDict[str, torch.Tensor]':
    """The ``prefix``-ed tensors of ``checkpoint['state_dict']``, prefix removed.

    Raises:
        CheckpointError: nothing starts with ``prefix``; the message lists what the
            file holds and recognises a backbone-only or torchvision file.
    """
    state_dict = checkpoint['state_dict']
    backbone = OrderedDict(
        (k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    if backbone:
        return backbone
    hint = ''
    if 'conv1.weight' in state_dict or any(k.startswith('layer1.') for k in state_dict):
        hint = (' Its keys look like a bare ResNet (conv1.*, layer1.*): a backbone-only '
                'or torchvision checkpoint, which needs no conversion.')
    raise CheckpointError(
        f"{source} has no backbone weights: no key starts with '{prefix}' (its "
        f'top-level names are {names_of(state_dict)}).{hint} Expected a checkpoint of a '
        'CDSClassifier / ImageClassifier, as tools/train.py writes for configs/cds/.')


def infer_resnet_arch(backbone: Dict[str, torch.Tensor],
                      source: str = 'checkpoint') -> ResNetArch:
    """Read depth, block type, stem and widths off a ResNet state dict (no prefix).

    Raises:
        CheckpointError: no ``layer1.0.*`` keys, i.e. not a ResNet.
    """
    stage_blocks: Dict[int, int] = {}
    for key in backbone:
        match = re.match(r'layer(\d+)\.(\d+)\.', key)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            stage_blocks[stage] = max(stage_blocks.get(stage, 0), block + 1)
    if 1 not in stage_blocks or 'layer1.0.conv1.weight' not in backbone:
        raise CheckpointError(
            f'{source}: the backbone is not a ResNet (no layer1.0.conv1.weight; its '
            f'top-level names are {names_of(backbone)})')
    stages = tuple(stage_blocks[s] for s in sorted(stage_blocks))
    block = 'Bottleneck' if any(
        re.match(r'layer\d+\.\d+\.conv3\.', k) for k in backbone) else 'BasicBlock'
    depth = next((d for d, arch in RESNET_ARCHS.items() if arch == (block, stages)),
                 None)
    if 'conv1.weight' in backbone:
        kernel = backbone['conv1.weight'].shape[-1]
        stem = {7: '7x7', 3: '3x3'}.get(kernel, f'{kernel}x{kernel}')
        stem_channels = backbone['conv1.weight'].shape[0]
    elif any(k.startswith('stem.') for k in backbone):
        stem = 'deep'
        stem_convs = [v for k, v in backbone.items()
                      if k.startswith('stem.') and v.dim() == 4]
        stem_channels = stem_convs[-1].shape[0]
    else:
        stem, stem_channels = 'none', 0
    return ResNetArch(depth=depth, block=block, stage_blocks=stages, stem=stem,
                      stem_channels=int(stem_channels),
                      base_channels=int(backbone['layer1.0.conv1.weight'].shape[0]))


def check_depth(arch: ResNetArch, depth: Optional[int], source: str) -> None:
    """Raise CheckpointError if ``depth`` is given and ``arch`` is not that ResNet."""
    if depth is None:
        return
    if depth not in RESNET_ARCHS:
        raise CheckpointError(f'depth must be one of {sorted(RESNET_ARCHS)}, got {depth}')
    if arch.depth != depth:
        raise CheckpointError(
            f'{source} holds {arch}, which does not match the requested depth '
            f'{depth} ({RESNET_ARCHS[depth][0]}, blocks per stage '
            f'{RESNET_ARCHS[depth][1]})')


def names_of(mapping, limit: int = 10) -> list:
    """The sorted top-level names (before the first dot) of ``mapping``'s keys."""
    names = sorted({str(k).split('.')[0] for k in mapping})
    return names[:limit] + (['...'] if len(names) > limit else [])


def checkpoint_problem(path: str, resumable: bool = False) -> Optional[str]:
    """Why ``torch.load`` cannot read the checkpoint file ``path``, or None if it can.

    Reads it as the runner does (``weights_only=True``, memory-mapped where the file
    is a zip archive, so the tensors' bytes are not copied): a file cut off by a kill
    during ``torch.save`` has no zip central directory and fails at once.

    Args:
        path (str): a local file.
        resumable (bool): also require a runner checkpoint to resume from (a dict
            with ``meta`` and ``optimizer``).

    Returns:
        str | None: e.g. ``'does not exist'``, ``'is empty (0 bytes)'``, ``'cannot be
        loaded (RuntimeError: PytorchStreamReader failed reading zip archive: failed
        finding central directory)'``.
    """
    if not osp.isfile(path):
        return 'does not exist'
    if osp.getsize(path) == 0:
        return 'is empty (0 bytes)'
    register_safe_checkpoint_globals()
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True,
                         mmap=zipfile.is_zipfile(path))
    except Exception as error:  # noqa: BLE001  torch raises many types here
        reason = ' '.join(str(error).split()[:40]) or '(no message)'
        return f'cannot be loaded ({type(error).__name__}: {reason})'
    if resumable and not (isinstance(obj, dict) and 'meta' in obj):
        return "is not a runner checkpoint (no 'meta'), so it cannot be resumed from"
    if resumable and 'optimizer' not in obj:
        # CheckpointHook(save_best=...) keeps best_*.pth without optimizer and
        # scheduler state: resuming from it would restart momentum silently.
        return ('holds no optimizer state (e.g. a best_*.pth kept by save_best), so '
                'it cannot be resumed from')
    return None


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Raise ``CheckpointError`` naming ``path`` when it cannot be loaded (local files;
    ``xxx://`` URLs are left to mmengine).

    Args:
        what (str): how the file is named in the message, e.g. ``'tools/test.py
            checkpoint'``.
    """
    if '://' in path:
        return
    problem = checkpoint_problem(path)
    if problem == 'does not exist':
        raise FileNotFoundError(f'{what} file not found: {path}')
    if problem is not None:
        raise CheckpointError(
            f'{what} {path} {problem}; it is truncated or not a PyTorch checkpoint '
            '(e.g. a copy or a save that was cut off): pass a complete checkpoint')


def resumable_checkpoint(work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """What ``--resume`` (auto) can go on from in ``work_dir``.

    ``work_dir/last_checkpoint`` names the newest checkpoint; when that one does not
    load (a kill left it truncated, or the file it names is gone), the newest
    ``*.pth`` in ``work_dir`` (by modification time) that loads and is a runner
    checkpoint is taken instead.

    Returns:
        tuple: ``(path, skipped)``: ``path`` is None when there is no
        ``last_checkpoint`` (nothing to resume: a fresh run) or when no checkpoint
        loads; ``skipped`` lists ``(file, why)`` of the checkpoints passed over,
        newest first.
    """
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return None, []
    with open(last) as f:
        target = f.read().strip()
    if target and '://' in target:
        return target, []
    skipped = []
    if not target:
        # CheckpointHook rewrites the file in place after each save.
        skipped.append((last, 'is empty (the run was killed while writing it)'))
    else:
        problem = checkpoint_problem(target, resumable=True)
        if problem is None:
            return target, []
        skipped.append((target, problem))
    candidates = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime,
                        reverse=True)
    for candidate in candidates:
        if target and osp.abspath(candidate) == osp.abspath(target):
            continue
        problem = checkpoint_problem(candidate, resumable=True)
        if problem is None:
            return candidate, skipped
        skipped.append((candidate, problem))
    return None, skipped


def describe_skipped(skipped: List[Tuple[str, str]]) -> str:
    """``'a.pth (is empty (0 bytes)), b.pth (cannot be loaded (...))'``."""
    return ', '.join(f'{path} ({why})' for path, why in skipped)
