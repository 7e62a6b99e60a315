"""mmcv 2.1.0 fixes for the numpy 2 that torch 2.14 comes with.

``mmcv.adjust_hue`` adds ``np.uint8(hue_factor * 255)`` to the hue channel; under
numpy 2 a negative hue factor raises ``OverflowError`` there (numpy 1 wrapped it), so
mmpretrain's ``ColorJitter(hue=...)`` -- part of the CDS view-2 pipeline -- crashes
about half the time. The replacement wraps the shift modulo 256 as numpy 1 did.
"""
import cv2
import mmcv
import mmcv.image
import mmcv.image.photometric as photometric
import numpy as np
from PIL import Image


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """``mmcv.adjust_hue`` with the hue shift wrapped to uint8 explicitly.

    Args:
        img (ndarray): BGR image (H, W, 3).
        hue_factor (float): shift of the hue channel in [-0.5, 0.5] of a turn.
        backend (str, optional): 'cv2' or 'pillow'; None uses mmcv's image backend.
    """
    if backend is None:
        backend = photometric.imread_backend
    if backend not in ['cv2', 'pillow']:
        raise ValueError(f'backend: {backend} is not supported.'
                         f"Supported backends are 'cv2', 'pillow'")
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and (img.ndim in {2, 3})):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    # numpy 1 cast the float to int and wrapped it into uint8; do the same explicitly
    shift = np.uint8(int(hue_factor * 255) % 256)
    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        with np.errstate(over='ignore'):
            np_h += shift
        pil_image = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v)).convert('RGB')
        return np.array(pil_image, dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv_img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv_img)
    h = h.astype(np.uint8)
    with np.errstate(over='ignore'):
        h += shift
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_mmcv_for_numpy2() -> None:
    """Swap in an mmcv ``adjust_hue`` that works under numpy 2."""
    for namespace in (mmcv, mmcv.image, photometric):
        namespace.adjust_hue = adjust_hue
