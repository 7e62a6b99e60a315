"""Find every unreadable, empty or missing image of a data set before training.

A class-folder set (mmpretrain ``CustomDataset``/``ImageNet``) or a COCO set (mmdet
``CocoDataset``: annotation json + image folder) is read the way training reads it:
the datasets are built from the config, and every ``img_path`` they would load is
checked to exist, to be non-empty and (unless ``decode=False``) to decode with the
backend of the pipeline's ``LoadImageFromFile``. Empty class folders are reported
too. Used by ``tools/misc/check_data.py`` and ``tools/train.py --check-data``.
"""
import os
from multiprocessing import get_context
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmengine.fileio import get_file_backend

from .sample_pipeline import describe_dataset, file_problem, leaf_datasets

Problem = Tuple[str, str]  # (path, what is wrong)


def empty_class_folders(dataset) -> List[str]:
    """The class folders of a class-folder ``CustomDataset`` that hold no file with
    one of its extensions (each folder is listed until its first image only).
    Other datasets give ``[]``."""
    try:
        from mmpretrain.datasets import CustomDataset
        from mmpretrain.datasets.custom import find_folders
    except ImportError:  # pragma: no cover - mmpretrain is a dependency
        return []
    if not isinstance(dataset, CustomDataset) or dataset.ann_file \
            or not getattr(dataset, 'with_label', True):
        return []
    root = dataset.img_prefix
    backend = get_file_backend(root, enable_singleton=True)
    folders, _ = find_folders(root, backend)
    empty = []
    for folder in folders:
        path = backend.join_path(root, folder)
        files = backend.list_dir_or_file(path, list_dir=False, list_file=True,
                                         recursive=True)
        if not any(dataset.is_valid_file(name) for name in files):
            empty.append(path)
    return empty


def _decode_backend(dataset) -> str:
    """``imdecode_backend`` of the dataset's ``LoadImageFromFile``, else cv2 (its
    default)."""
    pipeline = getattr(dataset, 'pipeline', None)
    for transform in getattr(pipeline, 'transforms', None) or []:
        backend = getattr(transform, 'imdecode_backend', None)
        if backend:
            return backend
    return 'cv2'


def check_image(path: str, decode: bool = True, backend: str = 'cv2') -> Optional[str]:
    """What is wrong with the image file ``path``, or None if it loads."""
    problem = file_problem(path)
    if problem is not None or not decode:
        return problem
    try:
        with open(path, 'rb') as f:
            data = f.read()
        img = mmcv.imfrombytes(data, flag='color', backend=backend)
    except Exception as exc:  # noqa: BLE001  any decoder error means unreadable
        return f'cannot be decoded ({type(exc).__name__}: {" ".join(str(exc).split())})'
    if img is None or not isinstance(img, np.ndarray) or img.size == 0:
        return 'cannot be decoded (corrupt or not an image)'
    return None


def _check_one(args) -> Optional[Problem]:
    path, decode, backend = args
    problem = check_image(path, decode, backend)
    return (path, problem) if problem else None


def image_paths(dataset) -> List[str]:
    """Every distinct ``img_path`` the dataset would load, in order."""
    paths, seen = [], set()
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        path = info.get('img_path') if isinstance(info, dict) else None
        if path is not None and path not in seen:
            seen.add(path)
            paths.append(path)
    return paths


def scan_dataset(dataset,
                 decode: bool = True,
                 workers: int = 0,
                 shard: Tuple[int, int] = (0, 1)) -> List[Problem]:
    """Every problem of ``dataset`` as ``(path, what is wrong)``.

    Args:
        dataset: a built dataset (mmengine wrappers are looked through).
        decode (bool): decode every image, not only check that it exists and is
            not empty. Defaults to True.
        workers (int): processes decoding in parallel (0: this process).
        shard (tuple): ``(rank, world_size)``: check only files ``rank::world_size``
            (so that several training processes share the work).
    """
    problems: List[Problem] = []
    for leaf in leaf_datasets(dataset):
        problems += [(folder, 'empty class folder (no image with a supported '
                      'extension)') for folder in empty_class_folders(leaf)]
        backend = _decode_backend(leaf)
        rank, world_size = shard
        paths = image_paths(leaf)[rank::world_size]
        jobs = [(path, decode, backend) for path in paths]
        if workers and workers > 1 and len(jobs) > 1:
            with get_context('fork').Pool(workers) as pool:
                results: Iterable = pool.imap(_check_one, jobs, chunksize=64)
                problems += [r for r in results if r]
        else:
            problems += [r for r in map(_check_one, jobs) if r]
    return problems


def build_datasets(cfg, splits: Sequence[str] = ('train', 'val', 'test')) -> Dict:
    """``{'train_dataloader.dataset': dataset, ...}`` built from ``cfg`` in its
    default scope (the same dataset twice, e.g. ``test_dataloader = val_dataloader``,
    is built once)."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', None) or 'mmpretrain')
    datasets, built = {}, []
    for split in splits:
        loader_cfg = cfg.get(f'{split}_dataloader', None)
        if not loader_cfg or loader_cfg.get('dataset', None) is None:
            continue
        if any(loader_cfg.dataset == other for other in built):
            continue
        built.append(loader_cfg.dataset)
        dataset = DATASETS.build(loader_cfg.dataset)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        datasets[f'{split}_dataloader.dataset'] = dataset
    return datasets


def format_report(results: Dict[str, Tuple[object, List[Problem]]]) -> str:
    """Lines ``<field> = <dataset>: N problem(s)`` then ``  path: problem``."""
    lines = []
    for field, (dataset, problems) in results.items():
        lines.append(f'{field} = {describe_dataset(dataset)}: {len(problems)} '
                     f'problem(s) in {len(dataset)} samples')
        lines += [f'  {path}: {problem}' for path, problem in problems]
    return '\n'.join(lines)


def check_config_data(cfg,
                      splits: Sequence[str] = ('train', 'val', 'test'),
                      decode: bool = True,
                      workers: int = 0,
                      shard: Optional[Tuple[int, int]] = None):
    """Scan the datasets of ``cfg``; return ``(report, number of problems)``."""
    if shard is None:
        shard = (int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1)))
    results = {}
    for field, dataset in build_datasets(cfg, splits).items():
        results[field] = (dataset, scan_dataset(dataset, decode, workers, shard))
    total = sum(len(problems) for _, problems in results.values())
    return format_report(results), total
