"""Cutout as the reference CIFAR code does it: holes clipped at every border."""
from typing import Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ClippedCutout(BaseTransform):
    r"""Cut square holes centred on random pixels, clipped at the image borders.

    DeVries & Taylor's Cutout as contrastive-deep-supervision's ``CIFAR/cutout.py``
    (``Cutout(n_holes=1, length=16)`` in ``CIFAR/train.py``) applies it: for each
    hole, a centre pixel :math:`(y, x)` is drawn uniformly from the
    :math:`H \times W` pixel grid (``np.random.randint(h)``, then ``randint(w)``)
    and the pixels

    .. math::

        [\mathrm{clip}(y - L/2, 0, H), \mathrm{clip}(y + L/2, 0, H)) \times
        [\mathrm{clip}(x - L/2, 0, W), \mathrm{clip}(x + L/2, 0, W))

    (:math:`L/2` = ``length // 2``) are set to ``pad_val``, so a hole near any
    border is cut short. mmcv's ``cutout`` (behind mmpretrain's ``Cutout``) instead
    draws a continuous centre and keeps the hole's full size at the top and left
    borders (only the bottom and right clip), so its holes cover more of the image
    on average.

    The reference zeroes the hole of the [0, 1] tensor before normalising; here the
    hole of the uint8 image is set to ``pad_val`` (0) before the data preprocessor
    normalises it, which gives the same normalised values.

    Required keys: ``img`` (H, W) or (H, W, C). Modified keys: ``img``.

    Args:
        length (int): :math:`L`, the side of a hole. Defaults to 16.
        n_holes (int): holes per image. Defaults to 1.
        pad_val (int | float | Sequence): fill value, one or one per channel.
            Defaults to 0.
    """

    def __init__(self,
                 length: int = 16,
                 n_holes: int = 1,
                 pad_val: Union[int, float, Sequence] = 0):
        if int(length) < 1 or int(n_holes) < 1:
            raise ValueError(f'ClippedCutout.length and n_holes: must be >= 1, got '
                             f'length={length}, n_holes={n_holes}')
        self.length = int(length)
        self.n_holes = int(n_holes)
        self.pad_val = tuple(pad_val) if isinstance(pad_val, Sequence) else pad_val

    def transform(self, results: dict) -> dict:
        """Cut the holes out of ``results['img']`` (a copy)."""
        img = results['img'].copy()
        height, width = img.shape[:2]
        half = self.length // 2
        for _ in range(self.n_holes):
            y = np.random.randint(height)
            x = np.random.randint(width)
            y1, y2 = np.clip([y - half, y + half], 0, height)
            x1, x2 = np.clip([x - half, x + half], 0, width)
            img[y1:y2, x1:x2] = self.pad_val
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(length={self.length}, '
                f'n_holes={self.n_holes}, pad_val={self.pad_val})')
