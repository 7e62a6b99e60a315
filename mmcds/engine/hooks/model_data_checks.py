"""What :class:`ClassCheckHook` reads off a built model and data set: the class counts
of classifier and detector heads, the width of the features that reach the head, and
which classes a training subset holds."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmcds.datasets import leaf_datasets

# Detector heads whose num_classes must equal the data set's classes, by their name
# in the detector (RetinaNet's bbox_head; Faster/Mask R-CNN's roi_head.bbox_head and
# mask_head, per stage in Cascade R-CNN). rpn_head is left out: its one class is
# "object", whatever the data set.
_DETECTION_HEAD_NAMES = ('bbox_head', 'mask_head')


def _is_detection_head(name: str, module) -> bool:
    parts = [p for p in name.split('.') if not p.isdigit()]
    return type(module).__module__.startswith('mmdet.models.') \
        and parts[-1] in _DETECTION_HEAD_NAMES


def class_count_fields(model) -> List[Tuple[str, int]]:
    """``(config field, value)`` of every class count a model holds.

    Classifiers: ``model.head.num_classes``, those of further mmpretrain heads
    (auxiliary exits) and ``data_preprocessor.num_classes`` when set. Detectors:
    ``model.bbox_head.num_classes`` (RetinaNet, FCOS, ...) and
    ``model.roi_head.bbox_head.num_classes`` / ``...mask_head.num_classes``
    (Faster/Mask R-CNN), not the class-agnostic ``rpn_head``."""
    fields = []
    for name, module in model.named_modules():
        num_classes = getattr(module, 'num_classes', None)
        if not name or type(num_classes) is not int:  # bool is an int, too
            continue
        if type(module).__module__.startswith('mmpretrain.models.heads') \
                or _is_detection_head(name, module):
            fields.append((f'model.{name}.num_classes', num_classes))
    preprocessor = getattr(model, 'data_preprocessor', None)
    num_classes = getattr(preprocessor, 'num_classes', None)
    if type(num_classes) is int:
        fields.append(('data_preprocessor.num_classes', num_classes))
    return fields


def head_input_channels(model, probe_sizes: Sequence[int] = (64, 224)
                        ) -> Optional[int]:
    """The channels of the features a classifier's ``model.head`` receives.

    One forward pass of ``extract_feat`` (backbone and neck) on a zero image in eval
    mode, without gradients: no weight, statistic or random state changes. The
    small size is tried first; backbones that need more pixels get the next one.

    Returns:
        int | None: C of the (N, C) pooled features; None when the model has no
        ``extract_feat``/head, no probe size runs, or the features are not pooled
        (N, C) (heads that take other layouts are not checked).
    """
    if not hasattr(model, 'extract_feat') or getattr(model, 'head', None) is None:
        return None
    params = list(model.parameters())
    if not params:
        return None
    # Every module's own flag is put back (a train() override, e.g. of a frozen
    # teacher, is not called again).
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        for size in probe_sizes:
            try:
                with torch.no_grad():
                    feats = model.extract_feat(params[0].new_zeros(1, 3, size, size))
                break
            except Exception:  # noqa: BLE001  try the next size, else do not check
                continue
        else:
            return None
    finally:
        for module, mode in modes:
            module.training = mode
    last = feats[-1] if isinstance(feats, (tuple, list)) else feats
    if not isinstance(last, torch.Tensor) or last.dim() != 2:
        return None
    return int(last.shape[1])


def dataset_labels(dataset) -> Optional[np.ndarray]:
    """The ``gt_label`` of every image a training set holds (after ``indices``), or
    None where the data set does not list them (e.g. detection sets)."""
    labels = []
    for leaf in leaf_datasets(dataset):
        get_gt_labels = getattr(leaf, 'get_gt_labels', None)
        if get_gt_labels is None:
            return None
        try:
            labels.append(np.asarray(get_gt_labels()).reshape(-1))
        except Exception:  # noqa: BLE001  a set without labels (e.g. unlabelled)
            return None
    return np.concatenate(labels) if labels else None


def subset_note(dataset) -> str:
    """``' (indices=8)'`` when (a data set under) ``dataset`` is cut down by mmengine's
    ``indices``, else ``''``."""
    for leaf in leaf_datasets(dataset):
        indices = getattr(leaf, '_indices', None)
        if indices is not None:
            shown = indices if isinstance(indices, int) else \
                f'a list of {len(indices)}'
            return f' (indices={shown})'
    return ''
