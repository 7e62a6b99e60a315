"""Turn a checkpoint of one of our classifiers into checkpoints other code can load.

A checkpoint that mmengine's runner writes for a ``CDSClassifier``, ``DSNClassifier``,
``DKSClassifier`` or ``SelfConClassifier`` holds ``backbone.*``, ``neck.*`` and
``head.*`` (the keys of mmpretrain's ``ImageClassifier``) plus the training-only parts
(``cds_neck.*``, ``exits.*``, ``exit_heads.*``, ``selfcon_projectors.*``). Three
outputs:

- ``mmpretrain``: ``{'meta', 'state_dict'}`` with the ``ImageClassifier`` keys only;
  loads into mmpretrain's ``ImageClassifier``.
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
from typing import Dict, Optional, Tuple, Union

import torch

from mmcds.utils.checkpoint import (RESNET_ARCHS, Checkpoint, CheckpointError,
                                    ResNetArch,
                                    backbone_of, check_depth, infer_resnet_arch,
                                    load_checkpoint_file)

# The state-dict prefixes of mmpretrain's ImageClassifier: what inference uses.
CLASSIFIER_PREFIXES = ('backbone.', 'neck.', 'head.')
FORMATS = ('mmpretrain', 'backbone', 'torchvision')


def to_classifier(checkpoint: Union[str, Checkpoint],
                  depth: Optional[int] = None,
                  source: Optional[str] = None) -> Checkpoint:
    """Convert to a plain mmpretrain ``ImageClassifier`` checkpoint.

    A plain mmpretrain ``ImageClassifier`` checkpoint: only the ``backbone.``,
    ``neck.`` and ``head.`` tensors are kept (projection heads, exits and the training
    state are dropped).

    ``meta`` is kept (epoch, ``dataset_meta``, ...) except ``cfg``, which describes the
    CDS training run rather than a model this checkpoint builds;
    ``meta['converted_from']`` records the source.
    """
    checkpoint, source = _as_checkpoint(checkpoint, source)
    backbone = backbone_of(checkpoint, source)
    if depth is not None:
        check_depth(infer_resnet_arch(backbone, source), depth, source)
    state_dict = OrderedDict((k, v) for k, v in checkpoint['state_dict'].items()
                             if k.startswith(CLASSIFIER_PREFIXES))
    return dict(meta=_converted_meta(checkpoint, source, 'mmpretrain'),
                state_dict=state_dict)


def to_backbone(checkpoint: Union[str, Checkpoint],
                depth: Optional[int] = None,
                source: Optional[str] = None) -> Checkpoint:
    """A backbone-only checkpoint: the ``backbone.*`` tensors without the prefix.

    It loads into mmdet's ``ResNet`` (and mmpretrain's) with no missing keys, e.g. with
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (no ``prefix``).

    Raises:
        CheckpointError: the backbone is not a ResNet with mmdet ResNet's 7x7 stem
            (e.g. ``ResNet_CIFAR`` or a deep stem), or not of ``depth``.
    """
    checkpoint, source = _as_checkpoint(checkpoint, source)
    backbone = backbone_of(checkpoint, source)
    _check_imagenet_resnet(infer_resnet_arch(backbone, source), depth, source,
                           "mmdet's ResNet")
    return dict(meta=_converted_meta(checkpoint, source, 'backbone'), state_dict=backbone)


def to_torchvision(checkpoint: Union[str, Checkpoint],
                   depth: Optional[int] = None,
                   source: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """A bare state dict with torchvision's ``resnetN`` key names.

    ``backbone.`` is dropped and a ``LinearClsHead``'s ``head.fc.*`` becomes ``fc.*``
    (left out when the classifier has no such head); the result is checked key by key
    and shape by shape against ``torchvision.models.resnet{depth}``, so
    ``model.load_state_dict(sd)`` works with ``strict=True`` when ``fc`` is present.

    Raises:
        CheckpointError: not a 64-wide ImageNet ResNet of a torchvision depth with a
            7x7 stem, trained with ``style='caffe'``, or not of ``depth``.
    """
    checkpoint, source = _as_checkpoint(checkpoint, source)
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
    """Convert a checkpoint file to another format and save it.

    Convert the checkpoint file ``src`` to ``fmt`` (one of :data:`FORMATS`) and
    save it as ``dst``; returns a one-line summary."""
    if fmt not in FORMATS:
        raise ValueError(f'format must be one of {FORMATS}, got {fmt!r}')
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'refusing to overwrite the source checkpoint {src}')
    checkpoint = load_checkpoint_file(src)
    backbone = backbone_of(checkpoint, src)
    arch = infer_resnet_arch(backbone, src) if 'layer1.0.conv1.weight' in backbone \
        else None
    converter = dict(mmpretrain=to_classifier, backbone=to_backbone,
                     torchvision=to_torchvision)[fmt]
    output = converter(checkpoint, depth=depth, source=src)
    state_dict = output.get('state_dict', output)
    dropped = len(checkpoint['state_dict']) - len(state_dict)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(output, dst)
    return (f'{src} ({arch or "backbone"}) -> {dst}: {fmt} format, '
            f'{len(state_dict)} tensors ({dropped} dropped)')


def _as_checkpoint(checkpoint: Union[str, Checkpoint],
                   source: Optional[str] = None) -> Tuple[Checkpoint, str]:
    """``(checkpoint dict, name for messages)`` from a path or a loaded checkpoint."""
    if isinstance(checkpoint, (str, os.PathLike)):
        return load_checkpoint_file(checkpoint), source or os.fspath(checkpoint)
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        return dict(meta=dict(checkpoint.get('meta') or {}),
                    state_dict=checkpoint['state_dict']), source or 'checkpoint'
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


