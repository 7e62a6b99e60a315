"""Reading labels and views off a training batch.

Reading what a training batch holds: labels off the data samples, views off the
inputs."""
from typing import List, Sequence

import torch
from mmpretrain.structures import DataSample


def labels_of(data_samples: Sequence[DataSample], device, owner: str) -> torch.Tensor:
    """The single-label targets of the data samples.

    The (N,) single-label targets of ``data_samples``; -1 where a sample has no
    ``gt_label`` (an unlabelled image in semi-supervised training). One ``cat`` of
    the samples' label tensors: no per-sample ``int()``, which on CUDA (where the data
    preprocessor has moved the labels) would wait for the device once per image.

    Raises:
        ValueError: a sample carries more than one label (multi-label or soft
            targets), which the contrastive terms cannot use.
    """
    labels = []
    for index, sample in enumerate(data_samples):
        if 'gt_label' not in sample:
            labels.append(None)
            continue
        gt_label = sample.gt_label
        if gt_label.numel() != 1:
            raise ValueError(f'{owner}: data_samples[{index}].gt_label has '
                             f'{gt_label.numel()} labels; the contrastive terms need '
                             'one per image (single-label data, no Mixup/CutMix)')
        labels.append(gt_label if gt_label.dim() == 1 else gt_label.reshape(1))
    given = [label for label in labels if label is not None]
    if not given:
        return torch.full((len(labels), ), -1, dtype=torch.long, device=device)
    if len(given) < len(labels):
        unlabelled = torch.full((1, ), -1, dtype=given[0].dtype,
                                device=given[0].device)
        labels = [unlabelled if label is None else label for label in labels]
    return torch.cat(labels).to(device=device, dtype=torch.long)


def split_views(inputs, owner: str) -> List[torch.Tensor]:
    """The V >= 2 view batches of ``inputs``, each (N, C, H, W), checked.

    Raises:
        ValueError: a single batch (the train pipeline made one view), fewer than two
            views, or views of different shapes.
    """
    if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs)
        raise ValueError(
            f'{owner}: inputs is a single batch {shape}, but this model trains on two '
            'views per image. Build the train pipeline with MultiView(num_views=[1, 1], '
            'transforms=[view1, view2]) before PackInputs and use '
            "data_preprocessor type='MultiViewClsDataPreprocessor' (as "
            'configs/_base_/datasets/*_2views.py do)')
    if len(inputs) < 2:
        raise ValueError(f'{owner}: inputs has {len(inputs)} view; give at least 2 '
                         'views per image')
    # int(): under torch.jit.trace (mmengine's FLOP counting) sizes are tensors,
    # which a set would tell apart by identity.
    shapes = [tuple(int(size) for size in v.shape) for v in inputs]
    if len(set(shapes)) != 1:
        raise ValueError(f'{owner}: the views have different shapes '
                         f'{shapes}; crop every view to one '
                         'size')
    return list(inputs)
