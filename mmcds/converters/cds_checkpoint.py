"""Turn a CDS classifier checkpoint into checkpoints other code can load.

A checkpoint that mmengine's runner writes for a ``CDSClassifier`` is a dict
``{'meta': ..., 'state_dict': ..., 'message_hub': ..., 'optimizer': ..., ...}`` whose
``state_dict`` holds ``backbone.*``, ``neck.*`` and ``head.*`` (the keys of mmpretrain's
``ImageClassifier``) plus the projection heads under ``cds_neck.*``. Three outputs:

- ``mmpretrain``: ``{'meta', 'state_dict'}`` without ``cds_neck.*``; loads into
  mmpretrain's ``ImageClassifier``.
- ``backbone``: ``{'meta', 'state_dict'}`` of the backbone, ``backbone.`` removed; loads
  into mmdet's (and mmpretrain's) ``ResNet``.
- ``torchvision``: a bare state dict, ``backbone.`` removed and ``head.fc.*`` renamed
  ``fc.*``; loads into ``torchvision.models.resnetN``.

mmdet's and mmpretrain's ``ResNet`` name their tensors alike (``conv1``, ``bn1``,
``layerS.B.convK``/``bnK``/``downsample.0|1``), and so does torchvision, so no key is
renamed beyond the prefixes. What can differ is the architecture, so the ``backbone`` and
``torchvision`` formats check it first (depth from the blocks per stage, 7x7 stem,
widths) and raise :class:`CheckpointError` rather than write a file whose weights would
be skipped as "size mismatch" warnings at load time.
"""
import os
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import torch

from mmcds.utils import register_safe_checkpoint_globals

FORMATS = ('mmpretrain', 'backbone', 'torchvision')

# depth -> (block type, blocks per stage), as in ResNet.arch_settings (mmpretrain, mmdet)
RESNET_ARCHS = {
    18: ('BasicBlock', (2, 2, 2, 2)),
    34: ('BasicBlock', (3, 4, 6, 3)),
    50: ('Bottleneck', (3, 4, 6, 3)),
    101: ('Bottleneck', (3, 4, 23, 3)),
    152: ('Bottleneck', (3, 8, 36, 3)),
}

# Top-level entries of a runner checkpoint that describe training, not the model.
_TRAINING_STATE = ('optimizer', 'message_hub', 'param_schedulers', 'ema_state_dict')

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


def load_cds_checkpoint(path: str, require_backbone: bool = True) -> Checkpoint:
    """Read a checkpoint file into ``{'meta': dict, 'state_dict': OrderedDict}``.

    Accepts what mmengine's runner writes (``meta`` + ``state_dict`` + training state)
    and bare state dicts. Loading uses ``torch.load(weights_only=True)``, with the types
    of mmengine checkpoints allow-listed, so a file that would run code is refused.
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
            f'(top-level entries: {_names(obj)})')
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
        f'top-level names are {_names(state_dict)}).{hint} Expected a checkpoint of a '
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
            f'top-level names are {_names(backbone)})')
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


def to_classifier(checkpoint: Union[str, Checkpoint],
                  depth: Optional[int] = None) -> Checkpoint:
    """A plain mmpretrain ``ImageClassifier`` checkpoint: the ``cds_neck.*`` projection
    heads and the training state are dropped, ``backbone/neck/head`` kept as they are.

    ``meta`` is kept (epoch, ``dataset_meta``, ...) except ``cfg``, which describes the
    CDS training run rather than a model this checkpoint builds;
    ``meta['converted_from']`` records the source.
    """
    checkpoint, source = _as_checkpoint(checkpoint)
    backbone = backbone_of(checkpoint, source)
    if depth is not None:
        check_depth(infer_resnet_arch(backbone, source), depth, source)
    state_dict = OrderedDict((k, v) for k, v in checkpoint['state_dict'].items()
                             if not k.startswith('cds_neck.'))
    return dict(meta=_converted_meta(checkpoint, source, 'mmpretrain'),
                state_dict=state_dict)


def to_backbone(checkpoint: Union[str, Checkpoint],
                depth: Optional[int] = None) -> Checkpoint:
    """A backbone-only checkpoint: the ``backbone.*`` tensors without the prefix.

    It loads into mmdet's ``ResNet`` (and mmpretrain's) with no missing keys, e.g. with
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (no ``prefix``).

    Raises:
        CheckpointError: the backbone is not a ResNet with mmdet ResNet's 7x7 stem
            (e.g. ``ResNet_CIFAR`` or a deep stem), or not of ``depth``.
    """
    checkpoint, source = _as_checkpoint(checkpoint)
    backbone = backbone_of(checkpoint, source)
    _check_imagenet_resnet(infer_resnet_arch(backbone, source), depth, source,
                           "mmdet's ResNet")
    return dict(meta=_converted_meta(checkpoint, source, 'backbone'), state_dict=backbone)


def to_torchvision(checkpoint: Union[str, Checkpoint],
                   depth: Optional[int] = None) -> 'OrderedDict[str, torch.Tensor]':
    """A bare state dict with torchvision's ``resnetN`` key names.

    ``backbone.`` is dropped and a ``LinearClsHead``'s ``head.fc.*`` becomes ``fc.*``
    (left out when the classifier has no such head); the result is checked key by key
    and shape by shape against ``torchvision.models.resnet{depth}``, so
    ``model.load_state_dict(sd)`` works with ``strict=True`` when ``fc`` is present.

    Raises:
        CheckpointError: not a 64-wide ImageNet ResNet of a torchvision depth with a
            7x7 stem, trained with ``style='caffe'``, or not of ``depth``.
    """
    checkpoint, source = _as_checkpoint(checkpoint)
    backbone = backbone_of(checkpoint, source)
    arch = infer_resnet_arch(backbone, source)
    _check_imagenet_resnet(arch, depth, source, "torchvision's resnet")
    if arch.stem_channels != 64 or arch.base_channels != 64:
        raise CheckpointError(
            f'{source} holds {arch}; torchvision.models.resnet{arch.depth} has 64 stem '
            'and base channels, so these weights cannot load into it')
    # torchvision's Bottleneck strides in its 3x3 conv (mmpretrain style='pytorch');
    # a caffe-style model strides in the first 1x1 conv and has the same shapes, so
    # only the training config can tell. Refuse it rather than convert silently.
    cfg_text = checkpoint['meta'].get('cfg')
    if isinstance(cfg_text, str) and re.search(r"style\s*=\s*['\"]caffe['\"]", cfg_text):
        raise CheckpointError(
            f"{source} was trained with style='caffe' (stride in the first 1x1 conv); "
            "torchvision's ResNet is style='pytorch', so the weights would compute "
            'something else there')

    state_dict = OrderedDict(backbone)
    state_dict.update((k[len('head.'):], v) for k, v in checkpoint['state_dict'].items()
                      if k in ('head.fc.weight', 'head.fc.bias'))
    _check_against_torchvision(state_dict, arch.depth, source)
    return state_dict


def convert_checkpoint(src: str, dst: str, fmt: str = 'backbone',
                       depth: Optional[int] = None) -> str:
    """Convert the checkpoint file ``src`` to ``fmt`` (one of :data:`FORMATS`) and
    save it as ``dst``; returns a one-line summary."""
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'refusing to overwrite the source checkpoint {src}')
    checkpoint = load_cds_checkpoint(src)
    backbone = backbone_of(checkpoint, src)
    arch = infer_resnet_arch(backbone, src) if 'layer1.0.conv1.weight' in backbone \
        else None
    converter = dict(mmpretrain=to_classifier, backbone=to_backbone,
                     torchvision=to_torchvision)[fmt]
    output = converter(_Loaded(checkpoint, src), depth=depth)
    state_dict = output.get('state_dict', output)
    dropped = len(checkpoint['state_dict']) - len(state_dict)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(output, dst)
    return (f'{src} ({arch or "backbone"}) -> {dst}: {fmt} format, '
            f'{len(state_dict)} tensors ({dropped} dropped)')


class _Loaded(dict):
    """A checkpoint already read by :func:`load_cds_checkpoint`, with its file name."""

    def __init__(self, checkpoint: Checkpoint, source: str):
        super().__init__(checkpoint)
        self.source = source


def _as_checkpoint(checkpoint: Union[str, Checkpoint]) -> Tuple[Checkpoint, str]:
    if isinstance(checkpoint, (str, os.PathLike)):
        return load_cds_checkpoint(checkpoint), os.fspath(checkpoint)
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        source = getattr(checkpoint, 'source', 'checkpoint')
        return dict(meta=dict(checkpoint.get('meta') or {}),
                    state_dict=checkpoint['state_dict']), source
    raise TypeError('expected a checkpoint path or a dict with a state_dict, got '
                    f'{type(checkpoint).__name__}')


def _check_imagenet_resnet(arch: ResNetArch, depth: Optional[int], source: str,
                           target: str) -> None:
    if arch.stem == '3x3':
        raise CheckpointError(
            f"{source} holds {arch}: a 3x3 stem without max-pool (mmpretrain's "
            f'ResNet_CIFAR). {target} has a 7x7 stride-2 stem, so conv1 cannot be '
            "transferred; pretrain with type='ResNet' instead of 'ResNet_CIFAR'")
    if arch.stem != '7x7':
        raise CheckpointError(
            f'{source} holds {arch}; {target} needs the single 7x7 conv1 stem '
            '(ResNetV1c/ResNetV1d deep stems name their layers differently in mmdet)')
    if arch.depth is None:
        raise CheckpointError(
            f'{source} holds {arch}, which is none of the ResNet depths '
            f'{sorted(RESNET_ARCHS)}')
    check_depth(arch, depth, source)


def _check_against_torchvision(state_dict: Dict[str, torch.Tensor], depth: int,
                               source: str) -> None:
    import torchvision  # only this format needs it

    num_classes = state_dict['fc.weight'].shape[0] if 'fc.weight' in state_dict \
        else 1000
    reference = getattr(torchvision.models, f'resnet{depth}')(
        weights=None, num_classes=num_classes).state_dict()
    wanted = {k: v for k, v in reference.items()
              if 'fc.weight' in state_dict or not k.startswith('fc.')}
    missing = sorted(set(wanted) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(wanted))
    mismatched = [f'{k}: {tuple(state_dict[k].shape)} vs {tuple(v.shape)}'
                  for k, v in wanted.items()
                  if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f'{source} does not fit torchvision.models.resnet{depth}: missing '
            f'{missing[:5]}, unexpected {unexpected[:5]}, shapes {mismatched[:5]}')


def _converted_meta(checkpoint: Checkpoint, source: str, fmt: str) -> dict:
    meta = {k: v for k, v in checkpoint['meta'].items() if k != 'cfg'}
    meta['converted_from'] = dict(checkpoint=source, format=fmt)
    return meta


def _names(mapping, limit: int = 10) -> list:
    names = sorted({str(k).split('.')[0] for k in mapping})
    return names[:limit] + (['...'] if len(names) > limit else [])
