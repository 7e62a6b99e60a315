"""Tiny stand-ins of the data sets the shipped configs read, each written in that set's
real on-disk layout, for the data set classes the configs name (mmpretrain's
CustomDataset, ImageNet, CIFAR100, CUB, FGVCAircraft, Flowers102, StanfordCars, mmcds's
StanfordDogs, mmdet's CocoDataset) to read as they read the real files."""
import json
import pickle

import numpy as np
import scipy.io
from PIL import Image

# The ImageNet synset of class 0 (tench), as the real folders and meta/*.txt name it.
IMAGENET_WNID = 'n01440764'


def write_image(path, size=(30, 40), seed=0, tint=None):
    """A random RGB image of (height, width) ``size``, or with ``tint`` (a channel
    index) a dark random one whose channel ``tint`` is raised by 150; the format
    follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if tint is None:
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    else:
        image = rng.integers(0, 60, (*size, 3), dtype=np.uint8)
        image[..., tint] += 150
    Image.fromarray(image).save(path)


def write_class_folders(root, classes, per_class=2, splits=('train', 'test'),
                        size=(32, 32), suffix='.jpg', tinted=False):
    """``root/<split>/<class>/<n><suffix>``: the layout of CustomDataset without an
    annotation file (the CIFAR-10 JPEGs, the demo digits). ``tinted``: class k's
    images have colour channel k mod 3 raised, so that a model learns them fast.
    ``per_class`` is a number, or ``{split: number}``."""
    for part, split in enumerate(splits):
        count = per_class[split] if isinstance(per_class, dict) else per_class
        for label, name in enumerate(classes):
            for n in range(count):
                write_image(root / split / name / f'{n:04d}{suffix}', size,
                            seed=(part * len(classes) + label) * count + n,
                            tint=label % 3 if tinted else None)
    return str(root)


def write_imagenet(root, num_train=2, num_val=2, size=(40, 48)):
    """mmpretrain's ImageNet with annotation files: ``train/<wnid>/<wnid>_<n>.JPEG``,
    ``val/ILSVRC2012_val_<n>.JPEG`` and ``meta/{train,val}.txt`` ('<path> <label>' a
    line); the classes are ImageNet's 1000. Every image is of class 0."""
    lines = {'train': [], 'val': []}
    for n in range(1, num_train + 1):
        name = f'{IMAGENET_WNID}/{IMAGENET_WNID}_{n}.JPEG'
        write_image(root / 'train' / name, size, seed=n)
        lines['train'].append(f'{name} 0\n')
    for n in range(1, num_val + 1):
        name = f'ILSVRC2012_val_{n:08d}.JPEG'
        write_image(root / 'val' / name, size, seed=100 + n)
        lines['val'].append(f'{name} 0\n')
    (root / 'meta').mkdir()
    for split, text in lines.items():
        (root / 'meta' / f'{split}.txt').write_text(''.join(text))
    return str(root)


def write_cifar100(root, num_train=16, num_test=8, seed=0):
    """The python version of the official archive: pickled dicts with 'data'
    (N, 3072) uint8 rows (R, G, B planes of 32x32) and 'fine_labels'. mmpretrain's
    CIFAR100 checks the official files' MD5: read it with the test sets' entries
    freed of their checksums (:func:`cifar100_without_checksums`)."""
    rng = np.random.default_rng(seed)
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    for name, num in (('train', num_train), ('test', num_test)):
        entry = {'data': rng.integers(0, 256, (num, 3072), dtype=np.uint8),
                 'fine_labels': rng.integers(0, 100, num).tolist(),
                 'coarse_labels': rng.integers(0, 20, num).tolist(),
                 'filenames': [f'{i}.png' for i in range(num)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / 'meta').write_bytes(pickle.dumps(
        {'fine_label_names': [f'c{i}' for i in range(100)]}))
    return str(root)


def cifar100_without_checksums(monkeypatch):
    """mmpretrain's CIFAR100 reads the tiny copies: its file lists without the
    official files' MD5 (which no copy can match)."""
    from mmpretrain.datasets import CIFAR100
    monkeypatch.setattr(CIFAR100, 'train_list', [['train', None]])
    monkeypatch.setattr(CIFAR100, 'test_list', [['test', None]])


def _cell(strings):
    """A MATLAB cell column of strings, as scipy.io.savemat writes it."""
    out = np.empty((len(strings), 1), dtype=object)
    out[:, 0] = strings
    return out


def write_cub(root):
    """CUB-200-2011: images/<class>/*.jpg, images.txt, image_class_labels.txt,
    train_test_split.txt; classes 1 and 2, two images each (one train, one test)."""
    names = ['001.Black_footed_Albatross/a.jpg', '002.Laysan_Albatross/b.jpg',
             '001.Black_footed_Albatross/c.jpg', '002.Laysan_Albatross/d.jpg']
    for seed, name in enumerate(names):
        write_image(root / 'images' / name, seed=seed)
    lines = {'images.txt': names, 'image_class_labels.txt': ['1', '2', '1', '2'],
             'train_test_split.txt': ['1', '1', '0', '0']}  # 1 = train
    for file, values in lines.items():
        (root / file).write_text(''.join(f'{i} {v}\n' for i, v in enumerate(values, 1)))


def write_stanford_dogs(root, last_label=2):
    """Stanford Dogs: Images/<wnid>-<breed>/*.jpg, {train,test}_list.mat (file_list,
    1-based labels); train images of labels 1 and ``last_label``, a test image of
    label 1. StanfordDogs takes its classes from the labels: 1..``last_label``."""
    files = ['n02085620-Chihuahua/n02085620_1.jpg', 'n02085782-Japanese_spaniel/'
             'n02085782_2.jpg', 'n02085620-Chihuahua/n02085620_3.jpg']
    for seed, name in enumerate(files):
        write_image(root / 'Images' / name, seed=seed)
    labels = np.array([[1.], [float(last_label)], [1.]])
    for split, index in (('train', [0, 1]), ('test', [2])):
        scipy.io.savemat(root / f'{split}_list.mat', {
            'file_list': _cell([files[i] for i in index]),
            'annotation_list': _cell([files[i][:-4] for i in index]),
            'labels': labels[index]})


def write_fgvc_aircraft(root):
    """FGVC Aircraft: data/images/<id>.jpg, data/images_variant_{trainval,test}.txt;
    the first two variants."""
    from mmpretrain.datasets.categories import FGVCAIRCRAFT_CATEGORIES
    variants = FGVCAIRCRAFT_CATEGORIES[:2]
    for split, ids in (('trainval', ['1000001', '1000002']), ('test', ['1000003'])):
        for image_id in ids:
            write_image(root / 'data' / 'images' / f'{image_id}.jpg', seed=int(image_id))
        (root / 'data' / f'images_variant_{split}.txt').write_text(''.join(
            f'{image_id} {variants[i % 2]}\n' for i, image_id in enumerate(ids)))


def write_flowers102(root):
    """Oxford Flowers-102: jpg/image_<n>.jpg, imagelabels.mat, setid.mat; two images
    (classes 1, 2) in each of the train, val and test splits."""
    for i in range(1, 7):
        write_image(root / 'jpg' / f'image_{i:05d}.jpg', seed=i)
    scipy.io.savemat(root / 'imagelabels.mat',
                     {'labels': np.array([[1, 2, 1, 2, 1, 2]], dtype=np.uint8)})
    scipy.io.savemat(root / 'setid.mat', {
        'trnid': np.array([[1, 2]], dtype=np.uint16),
        'valid': np.array([[3, 4]], dtype=np.uint16),
        'tstid': np.array([[5, 6]], dtype=np.uint16)})


def write_stanford_cars(root):
    """Stanford Cars, the car_ims/ + cars_annos.mat layout: two train images (classes
    1, 2) and a test image."""
    annotations = np.zeros((1, 3), dtype=[('relative_im_path', 'O'), ('class', 'O'),
                                          ('test', 'O')])
    for i in range(3):
        write_image(root / 'car_ims' / f'{i:06d}.jpg', seed=i)
        annotations[0, i] = (f'car_ims/{i:06d}.jpg', np.array([[i % 2 + 1]], np.uint8),
                             np.array([[i // 2]], np.uint8))
    scipy.io.savemat(root / 'cars_annos.mat', {'annotations': annotations})


FINE_GRAINED_WRITERS = {
    'CUB': write_cub, 'StanfordDogs': write_stanford_dogs,
    'FGVCAircraft': write_fgvc_aircraft, 'Flowers102': write_flowers102,
    'StanfordCars': write_stanford_cars,
}


def write_coco(root, classes, num_images=2, size=(48, 64)):
    """COCO detection: ``{train,val}2017/<n>.jpg`` and
    ``annotations/instances_{train,val}2017.json``, the categories named ``classes``
    (ids 1..K), one box of class k = n mod K per image (n = 0, 1, ...)."""
    height, width = size
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    (root / 'annotations').mkdir(parents=True)
    for split in ('train2017', 'val2017'):
        coco = dict(images=[], annotations=[], categories=categories)
        for n in range(num_images):
            file_name = f'{n:012d}.jpg'
            write_image(root / split / file_name, size, seed=n)
            coco['images'].append(dict(id=n + 1, file_name=file_name, height=height,
                                       width=width))
            box = [4., 6., width / 2, height / 2]
            coco['annotations'].append(dict(
                id=n + 1, image_id=n + 1, category_id=n % len(classes) + 1, bbox=box,
                area=box[2] * box[3], iscrowd=0))
        (root / 'annotations' / f'instances_{split}.json').write_text(json.dumps(coco))
    return str(root)


def write_teacher_checkpoint(teacher_config, path):
    """A checkpoint of a distiller's teacher, the model of its config file with
    freshly initialised weights, as the distiller loads it (``state_dict``): the
    distillation configs name no default file."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        teacher = MODELS.build(Config.fromfile(teacher_config).model)
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return str(path)
