"""ClippedCutout against a hand computation of the reference CIFAR/cutout.py holes, and
the CIFAR bases using it."""
import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.registry import TRANSFORMS

import mmcds  # noqa: F401


def reference_mask(height, width, y, x, length):
    """1 where CIFAR/cutout.py keeps the pixel: rows y - L//2 .. y + L//2 - 1 and the
    same columns are cut, whatever falls outside the image is dropped."""
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    half = length // 2
    hole = (rows >= y - half) & (rows < y + half) & (cols >= x - half) & (cols < x + half)
    return ~hole


@pytest.mark.parametrize('seed', range(8))
def test_hole_matches_the_reference_formula(seed):
    img = np.full((32, 32, 3), 200, dtype=np.uint8)
    np.random.seed(seed)
    out = TRANSFORMS.build(dict(type='ClippedCutout', length=16))(dict(img=img))['img']
    # The reference draws y = randint(h), then x = randint(w).
    np.random.seed(seed)
    y, x = np.random.randint(32), np.random.randint(32)
    kept = reference_mask(32, 32, y, x, 16)
    assert np.array_equal(out[..., 0] == 200, kept)
    assert (out[~kept] == 0).all() and out.dtype == np.uint8
    assert (img == 200).all()  # the input is not modified


def test_holes_near_the_top_left_border_are_clipped_unlike_mmcv():
    img = np.full((32, 32), 1, dtype=np.uint8)
    transform = TRANSFORMS.build(dict(type='ClippedCutout', length=16))
    areas, mmcv_areas = [], []
    for seed in range(2000):
        np.random.seed(seed)
        areas.append(int((transform(dict(img=img))['img'] == 0).sum()))
        np.random.seed(seed)
        mmcv_areas.append(int((mmcv.cutout(img, 16, pad_val=0) == 0).sum()))
    # Reference: expected cut rows per axis = mean over y of |[y-8, y+8) & [0, 32)|
    # = (sum_{y<8} (y + 8) + 17 * 16 + sum_{y>24} (40 - y)) / 32 = 448 / 32 = 14, and
    # rows and columns are independent: 196 pixels (sd of the mean of 2000 ~ 1.2).
    assert abs(np.mean(areas) - 196) < 5
    assert min(areas) == 64 and max(areas) == 256
    # mmcv: 16 rows unless the hole starts below row 16, so ~15.1 per axis, ~229 px.
    assert abs(np.mean(mmcv_areas) - 229) < 6


def test_several_holes_and_per_channel_fill():
    img = np.full((20, 20, 3), 9, dtype=np.uint8)
    np.random.seed(3)
    out = TRANSFORMS.build(dict(type='ClippedCutout', length=4, n_holes=3,
                                pad_val=(1, 2, 3)))(dict(img=img))['img']
    np.random.seed(3)
    kept = np.ones((20, 20), bool)
    for _ in range(3):
        y, x = np.random.randint(20), np.random.randint(20)
        kept &= reference_mask(20, 20, y, x, 4)
    assert np.array_equal(out[..., 0] == 9, kept)
    assert (out[~kept] == [1, 2, 3]).all()
    with pytest.raises(ValueError, match='ClippedCutout.length'):
        TRANSFORMS.build(dict(type='ClippedCutout', length=0))


def test_cifar_bases_use_the_reference_views():
    cfg = Config.fromfile('configs/_base_/datasets/cifar10_jpg_bs64_2views.py')
    view1, view2 = cfg.train_pipeline[1]['transforms']
    assert view1 == [
        dict(type='RandomCrop', crop_size=32, padding=4, pad_val=128),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='ClippedCutout', length=16, n_holes=1, pad_val=0),
    ]
    assert view2[0] == dict(type='RandomCrop', crop_size=32, padding=4)
    assert [t['type'] for t in view2[1:]] == ['RandomFlip', 'RandomApply',
                                              'RandomGrayscale']
