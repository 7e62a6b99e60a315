"""Rewrite a loaded config for an experiment.

Rewrite a loaded config for an experiment: another class-folder or COCO data set,
another epoch count. Each function names the config fields it changes."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff',
                  '.webp')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def class_counts(data_root: str, prefix: str) -> Dict[str, int]:
    """The image count of every class folder of a split.

    ``{class name: image count}`` of the class-folder split ``data_root/prefix``,
    sorted as mmpretrain's ``CustomDataset`` sorts them.

    Raises:
        FileNotFoundError: no such folder, or no class folder with images in it.
    """
    split_dir = osp.join(data_root, prefix)
    if not osp.isdir(split_dir):
        raise FileNotFoundError(
            f'no split folder {split_dir!r}: the data root must hold {prefix}/<class>/'
            'images (e.g. ../shared/data/cifar10)')
    counts = {}
    for name in sorted(os.listdir(split_dir)):
        class_dir = osp.join(split_dir, name)
        if osp.isdir(class_dir):
            counts[name] = sum(
                1 for f in os.listdir(class_dir) if f.lower().endswith(IMAGE_SUFFIXES))
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        raise FileNotFoundError(f'{split_dir!r} has no class folders with images')
    return counts


def add_class_folder_args(parser) -> None:
    """Add ``--data-root`` (default ``../shared/data/cifar10``), ``--train-prefix``
    and ``--test-prefix`` to an ``argparse`` parser: a class-folder data set, as
    the experiment tools take it."""
    parser.add_argument('--data-root', default=osp.join('..', 'shared', 'data',
                                                        'cifar10'),
                        help='class-folder data set with train and test splits')
    parser.add_argument('--train-prefix', default='train')
    parser.add_argument('--test-prefix', default='test')


def spread_indices(total: int, size: Optional[int]) -> Optional[List[int]]:
    """Indices spread evenly over a data set.

    ``size`` indices spread evenly over ``range(total)`` (None: all of them); as
    ``CustomDataset`` sorts by class, this takes about as many images of every class."""
    if size is None or size >= total:
        return None
    return sorted({int(i * total / size) for i in range(size)})


def use_class_folders(cfg: Config,
                      data_root: str,
                      train_prefix: str = 'train',
                      test_prefix: str = 'test',
                      train_subset: Optional[int] = None,
                      test_subset: Optional[int] = None) -> int:
    """Point a classifier config's dataloaders at class folders.

    Point every dataloader of ``cfg`` at the class folders under ``data_root`` and
    set the class count; returns it.

    Changes ``model.head.num_classes``, ``data_preprocessor.num_classes`` (and
    ``model.data_preprocessor``'s), and for each dataloader its dataset's
    ``data_root``, ``data_prefix`` (``train_prefix`` for training, ``test_prefix``
    for validation and test) and ``indices`` (``*_subset`` images spread over the
    classes; all when None). The val and test loaders are unshared copies.

    Raises:
        FileNotFoundError: a split folder is missing or empty.
        ValueError: the two splits have different class folders.
    """
    data_root = osp.abspath(data_root)
    train_classes = class_counts(data_root, train_prefix)
    test_classes = class_counts(data_root, test_prefix)
    if list(test_classes) != list(train_classes):
        raise ValueError(f'{train_prefix}/ and {test_prefix}/ under {data_root} have '
                         f'different class folders: {sorted(train_classes)} vs '
                         f'{sorted(test_classes)}')
    num_classes = len(train_classes)
    cfg.model.head.num_classes = num_classes
    for holder in (cfg, cfg.model):
        if holder.get('data_preprocessor', None) is not None:
            holder.data_preprocessor.num_classes = num_classes
    splits = dict(train_dataloader=(train_prefix, train_subset, train_classes),
                  val_dataloader=(test_prefix, test_subset, test_classes),
                  test_dataloader=(test_prefix, test_subset, test_classes))
    for field, (prefix, subset, counts) in splits.items():
        if cfg.get(field, None) is None:
            continue
        loader = ConfigDict(cfg[field].to_dict())  # unshare the val/test dicts
        loader.dataset.data_root = data_root
        loader.dataset.data_prefix = prefix
        loader.dataset.pop('ann_file', None)
        loader.dataset.pop('indices', None)
        indices = spread_indices(sum(counts.values()), subset)
        if indices is not None:
            loader.dataset.indices = indices
        cfg[field] = loader
    return num_classes


def insert_resize(pipeline: List[dict], size: int) -> None:
    """Insert ``Resize(size, size)`` right after ``LoadImageFromFile``."""
    for index, step in enumerate(pipeline):
        if step.get('type') == 'LoadImageFromFile':
            pipeline.insert(index + 1, dict(type='Resize', scale=(size, size)))
            return
    raise ValueError('the pipeline has no LoadImageFromFile step to resize after')


def set_epochs(cfg: Config, epochs: int, per_iteration: bool = False,
               validate: bool = True) -> None:
    """Train for ``epochs`` epochs, with the schedule stretched to fit.

    Changes ``train_cfg`` (``max_epochs``; ``val_interval`` = ``epochs``, i.e. one
    validation at the end, or no validation when ``validate`` is False),
    ``default_hooks.checkpoint`` (one checkpoint at the end), and each
    ``param_scheduler``'s ``T_max`` (cosine ends at the last epoch) and ``end``;
    ``per_iteration`` steps epoch-based schedules every iteration (with a few epochs,
    per-epoch steps would leave the learning rate flat for most of the run).
    """
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    schedulers = cfg.param_scheduler if isinstance(cfg.param_scheduler, list) \
        else [cfg.param_scheduler]
    for scheduler in schedulers:
        if 'T_max' in scheduler:
            scheduler.T_max = epochs
        if per_iteration and scheduler.get('by_epoch', True):
            scheduler.convert_to_iter_based = True
        if 'end' in scheduler and scheduler.get('by_epoch', True):
            scheduler.end = min(scheduler.end, epochs)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs,
                                        save_last=True, max_keep_ckpts=1)


def coco_categories(data_root: str,
                    splits: Sequence[str] = ('train2017', 'val2017')) -> Tuple[str, ...]:
    """The category names of a COCO-format data set, in category-id order.

    Raises:
        FileNotFoundError: an image folder or annotation file of ``splits`` is missing.
    """
    for split in splits:
        for path in (osp.join(data_root, 'annotations', f'instances_{split}.json'),
                     osp.join(data_root, split)):
            if not osp.exists(path):
                raise FileNotFoundError(
                    f'{path} not found: a COCO-format data set needs '
                    + ', '.join(f'{s}/ and annotations/instances_{s}.json'
                                for s in splits))
    with open(osp.join(data_root, 'annotations', f'instances_{splits[0]}.json')) as f:
        categories = sorted(json.load(f)['categories'], key=lambda c: c['id'])
    return tuple(c['name'] for c in categories)


def use_coco(cfg: Config, data_root: str, image_scale: Optional[int] = None) -> int:
    """Point a detector config at a COCO-format data set.

    Point a detector config at the COCO-format data set under ``data_root``
    (``train2017`` trains, ``val2017`` validates and tests); returns the class count.

    Changes each dataloader's ``dataset.data_root`` and ``dataset.metainfo.classes``,
    the evaluators' ``ann_file``, the ``num_classes`` of ``model.roi_head.bbox_head``
    or ``model.bbox_head``, and with ``image_scale`` every ``Resize`` to that square.
    """
    classes = coco_categories(data_root)
    for field in LOADERS:
        loader = cfg[field]
        loader.dataset.data_root = osp.join(data_root, '')
        loader.dataset.metainfo = dict(classes=classes)
        if image_scale:
            for transform in loader.dataset.pipeline:
                if transform['type'] == 'Resize':
                    transform['scale'] = (image_scale, image_scale)
    for field in ('val_evaluator', 'test_evaluator'):
        cfg[field].ann_file = osp.join(data_root, 'annotations/instances_val2017.json')
    bbox_head = cfg.model.roi_head.bbox_head if 'roi_head' in cfg.model \
        else cfg.model.bbox_head
    bbox_head.num_classes = len(classes)
    return len(classes)
