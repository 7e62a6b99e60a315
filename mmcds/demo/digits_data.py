"""Real images that ship inside a PyPI package: scikit-learn's handwritten digits.

``load_digits()`` holds 1,797 scans of handwritten digits (8x8, 17 grey levels, 10
classes) from the UCI ML repository, bundled with scikit-learn, so the demo needs no
download. Two data sets are written from them, in the layouts mmpretrain's
``CustomDataset`` and mmdet's ``CocoDataset`` read:

- classification: ``<root>/{train,test}/<digit>/<index>.png``, upsampled to ``size``;
- detection: ``<root>/{train2017,val2017}/*.png`` canvases with 1-3 digits each and
  ``<root>/annotations/instances_{train,val}2017.json`` (COCO boxes, 10 categories).

The test digits only appear on the validation canvases, so detection is also
evaluated on handwriting the classifier never saw.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

DIGIT_CLASSES = tuple(str(d) for d in range(10))


def load_digit_images(seed: int = 0, test_fraction: float = 0.25):
    """Digits as uint8 (N, 8, 8) images and labels, split stratified by class.

    Returns:
        dict: ``train`` and ``test`` -> (images (N, 8, 8) uint8 0..255, labels (N,)).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - installed by scripts/install.sh
        raise ImportError('the demo data needs scikit-learn (pip install scikit-learn); '
                          'run `make demo`, which installs it') from error
    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        chosen = rng.choice(members, size=int(round(len(members) * test_fraction)),
                            replace=False)
        test_mask[chosen] = True
    return dict(train=(images[~test_mask], labels[~test_mask]),
                test=(images[test_mask], labels[test_mask]))


def _upsample(image: np.ndarray, size: int) -> Image.Image:
    return Image.fromarray(image).resize((size, size), Image.BICUBIC).convert('RGB')


def write_digits_classification(root: str, size: int = 32, seed: int = 0) -> Dict[str, int]:
    """Write the class-folder set; returns the number of images per split."""
    counts = {}
    for split, (images, labels) in load_digit_images(seed).items():
        for index, (image, label) in enumerate(zip(images, labels)):
            folder = osp.join(root, split, DIGIT_CLASSES[label])
            os.makedirs(folder, exist_ok=True)
            _upsample(image, size).save(osp.join(folder, f'{index:04d}.png'))
        counts[split] = len(labels)
    return counts


def _place_digits(rng, digits: List[Tuple[np.ndarray, int]], canvas_size: int,
                  min_size: int, max_size: int):
    """Paste digits at random non-overlapping spots; returns the canvas and boxes."""
    canvas = rng.integers(0, 40, size=(canvas_size, canvas_size), dtype=np.uint8)
    occupied, boxes = [], []
    for image, label in digits:
        size = int(rng.integers(min_size, max_size + 1))
        patch = np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))
        for _ in range(50):
            x, y = (int(v) for v in rng.integers(0, canvas_size - size + 1, size=2))
            if all(x + size <= ox or ox + osz <= x or y + size <= oy or oy + osz <= y
                   for ox, oy, osz in occupied):
                break
        else:
            continue  # no free spot: leave this digit out
        occupied.append((x, y, size))
        region = canvas[y:y + size, x:x + size]
        np.maximum(region, patch, out=region)
        # Tight box around the ink, not the padded 8x8 cell.
        ys, xs = np.nonzero(patch > 64)
        if len(xs) == 0:
            continue
        x0, y0 = x + xs.min(), y + ys.min()
        boxes.append(([float(x0), float(y0), float(xs.max() - xs.min() + 1),
                       float(ys.max() - ys.min() + 1)], label))
    return canvas, boxes


def write_digits_detection(root: str, num_train: int = 200, num_val: int = 50,
                           canvas_size: int = 128, digits_per_image=(1, 3),
                           digit_size=(20, 44), seed: int = 0) -> Dict[str, int]:
    """Write the COCO-format set; returns the number of boxes per split."""
    rng = np.random.default_rng(seed + 1)
    splits = load_digit_images(seed)
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(DIGIT_CLASSES)]
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    num_boxes = {}
    for coco_split, source, count in (('train2017', 'train', num_train),
                                      ('val2017', 'test', num_val)):
        images, labels = splits[source]
        os.makedirs(osp.join(root, coco_split), exist_ok=True)
        coco = dict(images=[], annotations=[], categories=categories)
        for image_id in range(1, count + 1):
            picks = rng.choice(len(labels), size=int(rng.integers(
                digits_per_image[0], digits_per_image[1] + 1)), replace=False)
            canvas, boxes = _place_digits(rng, [(images[i], int(labels[i])) for i in picks],
                                          canvas_size, *digit_size)
            file_name = f'{image_id:06d}.png'
            Image.fromarray(canvas).convert('RGB').save(osp.join(root, coco_split, file_name))
            coco['images'].append(dict(id=image_id, file_name=file_name,
                                       width=canvas_size, height=canvas_size))
            for bbox, label in boxes:
                coco['annotations'].append(dict(
                    id=len(coco['annotations']) + 1, image_id=image_id,
                    category_id=label + 1, bbox=bbox, area=bbox[2] * bbox[3],
                    iscrowd=0))
        with open(osp.join(root, 'annotations', f'instances_{coco_split}.json'), 'w') as f:
            json.dump(coco, f)
        num_boxes[coco_split] = len(coco['annotations'])
    return num_boxes
