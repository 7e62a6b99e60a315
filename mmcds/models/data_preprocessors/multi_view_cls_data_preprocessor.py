from typing import List, Optional

import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class MultiViewClsDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that also takes several views of every image.

    mmpretrain's ``MultiView`` + ``PackInputs`` give every sample a list of V images
    (C, H, W). What reaches the model depends on the dataloader's ``collate_fn``; for
    N data samples, ``data['inputs']`` is

    - ``default_collate``: V tensors (N, C, H, W);
    - ``pseudo_collate`` (mmengine's default when a config sets no ``collate_fn``):
      V sequences of N tensors (C, H, W), because it transposes the per-sample
      lists exactly as ``default_collate`` does, only without stacking.

    Both are read as V view batches of N images; no other layout is accepted. (A
    hand-built "N samples of V views" batch cannot be told from "V views of N
    samples" when N == V, so it is not guessed at.) Every view batch must hold
    exactly one image per data sample, or the batch is refused: a mismatch here
    means the images and the labels would be paired wrongly.

    Each view is converted, normalised and padded as ``ClsDataPreprocessor`` would,
    labels are kept on the data samples, and the result is a list of V tensors
    (N, C, H, W), view 1 first. A single-view batch (validation, test) is handled
    exactly as by ``ClsDataPreprocessor``.

    Batch augmentations (Mixup, CutMix) are refused for multi-view batches: mixing
    each view on its own would give the two views different targets.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data_samples = data.get('data_samples', None)
        num_samples = len(data_samples) if data_samples is not None else None
        views = self._views_of(data['inputs'], num_samples)
        if views is None:
            return super().forward(data, training)
        if training and self.batch_augments is not None:
            raise ValueError('MultiViewClsDataPreprocessor.batch_augments: Mixup/'
                             'CutMix are not supported with multi-view inputs; '
                             'remove batch_augments or train on one view')
        outputs = [
            super(MultiViewClsDataPreprocessor, self).forward(
                dict(inputs=view, data_samples=data_samples), training)
            for view in views
        ]
        return dict(inputs=[out['inputs'] for out in outputs],
                    data_samples=outputs[-1]['data_samples'])

    @staticmethod
    def _views_of(inputs, num_samples: Optional[int] = None) -> Optional[List]:
        """The V per-view batches of ``inputs``, or None for a single-view batch.

        Args:
            inputs: the collated ``data['inputs']``.
            num_samples (int, optional): N, the number of data samples.

        Returns:
            list | None: V batches of N images, each a tensor (N, C, H, W) or a
            list of N tensors (C, H, W).
        """
        owner = 'MultiViewClsDataPreprocessor'
        if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
            return None
        if len(inputs) == 0:
            raise ValueError(f'{owner}: got an empty batch (data["inputs"] is empty)')
        first = inputs[0]
        if isinstance(first, torch.Tensor):
            if first.dim() != 4:
                # pseudo_collate of single views: N tensors (C, H, W).
                return None
            # default_collate: V tensors (N, C, H, W).
            views = list(inputs)
            sizes = [int(view.shape[0]) if isinstance(view, torch.Tensor) else None
                     for view in views]
        elif isinstance(first, (list, tuple)):
            # V sequences of N images, as pseudo_collate transposes them.
            views = [list(view) for view in inputs]
            sizes = [len(view) for view in views]
        else:
            raise TypeError(f'{owner}: unsupported data["inputs"] element '
                            f'{type(first).__name__}; expected tensors or lists of '
                            'tensors from default_collate/pseudo_collate')
        expected = num_samples if num_samples is not None else sizes[0]
        if any(size != expected for size in sizes):
            raise ValueError(
                f'{owner}: the view batches hold {sizes} images but there are '
                f'{expected} data samples; every view needs exactly one image per '
                'data sample, or images and labels are paired wrongly (check the '
                'collate_fn and the MultiView transform; data["inputs"] must be V '
                'view batches of N images, not N samples of V views)')
        return views
