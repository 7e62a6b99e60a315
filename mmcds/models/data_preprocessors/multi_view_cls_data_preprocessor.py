from typing import List, Optional

import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class MultiViewClsDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that also takes several views of every image.

    mmpretrain's ``MultiView`` + ``PackInputs`` give, per batch, either a list of V
    tensors (N, C, H, W) (``default_collate``) or N lists of V tensors (C, H, W)
    (``pseudo_collate``). Each view is converted, normalised and padded as
    ``ClsDataPreprocessor`` would, labels are kept on the data samples, and the result
    is a list of V tensors (N, C, H, W). A single-view batch (validation, test) is
    handled exactly as by ``ClsDataPreprocessor``.

    Batch augmentations (Mixup, CutMix) are refused for multi-view batches: mixing
    each view on its own would give the two views different targets.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        views = self._views_of(data['inputs'])
        if views is None:
            return super().forward(data, training)
        if training and self.batch_augments is not None:
            raise ValueError('MultiViewClsDataPreprocessor: batch_augments (Mixup, '
                             'CutMix) are not supported with multi-view inputs')
        data_samples = data.get('data_samples', None)
        outputs = [
            super(MultiViewClsDataPreprocessor, self).forward(
                dict(inputs=view, data_samples=data_samples), training)
            for view in views
        ]
        return dict(inputs=[out['inputs'] for out in outputs],
                    data_samples=outputs[-1]['data_samples'])

    @staticmethod
    def _views_of(inputs) -> Optional[List]:
        """The per-view batches of ``inputs``, or None for a single-view batch."""
        if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
            return None
        if len(inputs) == 0:
            raise ValueError('MultiViewClsDataPreprocessor got an empty batch')
        first = inputs[0]
        if isinstance(first, torch.Tensor):
            # default_collate: V tensors (N, C, H, W); pseudo_collate of single
            # views: N tensors (C, H, W).
            return list(inputs) if first.dim() == 4 else None
        if isinstance(first, (list, tuple)):
            num_views = len(first)
            if any(len(sample) != num_views for sample in inputs):
                raise ValueError('MultiViewClsDataPreprocessor: samples in the batch '
                                 'have different numbers of views')
            return [[sample[v] for sample in inputs] for v in range(num_views)]
        raise TypeError('MultiViewClsDataPreprocessor: unsupported inputs element '
                        f'{type(first)}')
