"""The main job: CE vs CDS classifiers and their backbones in Faster R-CNN, over seeds.

Called by ``tools/demo.py`` (``make demo``). Every step runs through mmengine's Runner
on configs in ``configs/demo/`` and data read by mmpretrain's ``CustomDataset`` and
mmdet's ``CocoDataset``, as a user's own training would. Each seed trains both
classifiers and fine-tunes a detector from each backbone; the runs are independent
jobs, ``jobs`` of them at a time in worker processes of one torch thread each.
"""
import multiprocessing
import os
import os.path as osp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Dict, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log

from mmcds.experiments import (class_counts, measured_run, set_epochs,
                               use_class_folders, use_coco)

from .digits_data import write_digits_classification, write_digits_detection

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CE_CONFIG = osp.join(REPO_ROOT, 'configs/demo/resnet18-w16_ce_digits.py')
CDS_CONFIG = osp.join(REPO_ROOT, 'configs/demo/resnet18-w16_cds_digits.py')
DET_CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18-w16_fpn_digits.py')
CLASSIFIER_CONFIGS = (('CE', CE_CONFIG), ('CDS', CDS_CONFIG))
# Digit canvases per split: (train, val); the quick mode's smoke-test sizes.
CANVASES = (240, 80)
QUICK_CANVASES = (24, 12)


def log(message: str) -> None:
    """Log a demo step through mmengine's current logger."""
    print_log(f'[demo] {message}', logger='current')


def prepare_digits(data_dir: str, quick: bool, seed: int):
    """Write the embedded digits data sets once per seed (a marker file says they
    are done): the seed draws the train/test split and the canvases."""
    cls_root = osp.join(data_dir, f'digits_seed{seed}')
    det_root = osp.join(data_dir, f'digits_coco_seed{seed}' + ('_quick' if quick else ''))
    if not osp.exists(osp.join(cls_root, '.done')):
        counts = write_digits_classification(cls_root, seed=seed)
        open(osp.join(cls_root, '.done'), 'w').close()
        log(f'wrote scikit-learn digits as class folders: {counts} -> {cls_root}')
    if not osp.exists(osp.join(det_root, '.done')):
        num_train, num_val = QUICK_CANVASES if quick else CANVASES
        boxes = write_digits_detection(det_root, seed=seed, num_train=num_train,
                                       num_val=num_val)
        open(osp.join(det_root, '.done'), 'w').close()
        log(f'wrote digit canvases as COCO (boxes per split: {boxes}) -> {det_root}')
    return cls_root, det_root


def train_classifier(config: str, work_dir: str, data_root: str, epochs: int,
                     seed: int, train_subset: Optional[int] = None,
                     label: str = 'classifier') -> Dict:
    """Train and test one demo classifier.

    Train and test one demo classifier on the class folders under ``data_root``;
    returns top-1, ECE, the per-sample confidences and correctness behind the ECE,
    per-class accuracy, the loss history and the checkpoint.
    ``label`` names the run in the per-epoch progress lines."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.randomness.seed = seed
    num_classes = use_class_folders(cfg, data_root)
    if train_subset:
        cfg.train_dataloader.dataset.indices = train_subset
    # No validation: it would score the final model on the test split a second time.
    set_epochs(cfg, epochs, validate=False)
    cfg.test_evaluator = [dict(type='Accuracy', topk=(1, )),
                          dict(type='ExpectedCalibrationError', num_bins=15),
                          dict(type='ConfusionMatrix', num_classes=num_classes)]
    run = measured_run(cfg, history_keys=['loss'] +
                       [f'loss_cds_stage{k}' for k in range(1, 5)],
                       label=f'{label} seed {seed}')
    confusion = np.asarray(run['metrics']['confusion_matrix/result'], dtype=np.float64)
    # The per-sample outputs behind the table's top-1 and ECE, for checks and plots.
    np.savez(osp.join(work_dir, 'calibration.npz'),
             confidences=np.asarray(run['calibration']['confidences']),
             correct=np.asarray(run['calibration']['correct']))
    return dict(
        calibration=run['calibration'],
        top1=run['metrics']['accuracy/top1'],
        ece=run['metrics']['calibration/ECE'],
        per_class=(np.diag(confusion) / confusion.sum(1).clip(min=1) * 100).tolist(),
        classes=list(class_counts(data_root, 'train')),
        train_seconds=run['train_seconds'],
        checkpoint=osp.join(work_dir, f'epoch_{epochs}.pth'),
        history=run['history'],
    )


def train_detector(work_dir: str, data_root: str, backbone_checkpoint: str,
                   epochs: int, seed: int, image_scale: int,
                   label: str = 'Faster R-CNN') -> Dict:
    """Fine-tune and test the demo detector.

    Fine-tune and test the demo detector from ``backbone_checkpoint`` on the COCO
    data under ``data_root``; returns bbox mAP, mAP@0.5, the loss history and the
    backbone checkpoint it started from. ``label`` names the run in the progress
    lines."""
    cfg = Config.fromfile(DET_CONFIG)
    cfg.work_dir = work_dir
    cfg.randomness.seed = seed
    cfg.model.backbone.init_cfg.checkpoint = backbone_checkpoint
    # mmdet names its visualizer 'visualizer': a second detector in this process would
    # get the first one's instance back, logging into the first run's folder.
    cfg.visualizer.name = f'visualizer {work_dir}'
    use_coco(cfg, data_root, image_scale)
    set_epochs(cfg, epochs, validate=False)  # val2017 is the test split too
    # A process runs several detectors: persistent workers of one, left holding
    # prefetched batches, each time out (5 s) in their shutdown when the garbage
    # collector frees its runner during the next (30 s lost, measured).
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].persistent_workers = False
    run = measured_run(cfg, label=f'{label} seed {seed}')
    if 'coco/bbox_mAP' not in run['metrics']:
        # mmdet's CocoMetric returns nothing when no box scored above score_thr
        log('the detector found no box above its score threshold: mAP 0')
    return dict(
        mAP=run['metrics'].get('coco/bbox_mAP', 0.0) * 100,
        mAP_50=run['metrics'].get('coco/bbox_mAP_50', 0.0) * 100,
        train_seconds=run['train_seconds'],
        history=run['history'],
        backbone_checkpoint=backbone_checkpoint,
        log_dir=run['log_dir'],
    )


def classifier_job(method: str, seed: int, seed_dir: str, cls_data: str,
                   epochs: int, quick: bool) -> Dict:
    """Train and test the ``method`` classifier of one seed (a worker's job)."""
    log(f'step: train the {method} classifier, seed {seed} ({epochs} epochs on '
        f'{cls_data})')
    return train_classifier(
        dict(CLASSIFIER_CONFIGS)[method], osp.join(seed_dir, method.lower()), cls_data,
        epochs, seed, train_subset=256 if quick else None,
        label=f'{method} classifier')


def detector_job(method: str, seed: int, seed_dir: str, classifier_checkpoint: str,
                 det_data: str, epochs: int, image_scale: int) -> Dict:
    """Convert a classifier's backbone and fine-tune Faster R-CNN from it (a worker's
    job)."""
    from mmcds.converters import convert_checkpoint
    backbone_checkpoint = osp.join(seed_dir, f'{method.lower()}_backbone.pth')
    log(convert_checkpoint(classifier_checkpoint, backbone_checkpoint, fmt='backbone'))
    log(f'step: fine-tune Faster R-CNN from the {method} backbone, seed {seed} '
        f'({epochs} epochs on {det_data})')
    return train_detector(osp.join(seed_dir, f'faster_rcnn_{method.lower()}'),
                          det_data, backbone_checkpoint, epochs, seed, image_scale,
                          label=f'Faster R-CNN from {method}')


def _start_worker(threads: int) -> None:
    import torch

    import mmcds  # noqa: F401  registers mmcds modules in the spawned process
    torch.set_num_threads(threads)
    # The configs' dataloaders fork their workers (mmengine's env_cfg); set it here,
    # where the pool spawned this process, instead of letting each run's Runner warn
    # that it changes the start method.
    multiprocessing.set_start_method('fork', force=True)


class _InProcess:
    """What the pool offers, run at once in this process (``jobs=1``)."""

    def submit(self, function: Callable, *args):
        from concurrent.futures import Future
        future = Future()
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed over as a worker's would be
            future.set_exception(error)
        return future

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass


def run_demo(work_dir: str = 'work_dirs/demo',
             cls_data: Optional[str] = None,
             det_data: Optional[str] = None,
             cls_epochs: int = 12,
             det_epochs: int = 6,
             det_scale: Optional[int] = None,
             quick: bool = False,
             seeds: Sequence[int] = (0, 1, 2),
             jobs: int = 2,
             threads: int = 1) -> Dict:
    """Run the whole demo; returns the results and writes results.md and plots.

    Both backbones of a seed go through the same conversion and fine-tuning
    (schedule, seed, data), so the seed's mAP difference is the backbones' alone.
    ``jobs`` runs train at a time, each in a worker process with ``threads`` torch
    threads (``jobs=1``: one after another in this process).
    """
    from .report import write_report

    start = time.time()
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    seeds = list(dict.fromkeys(seeds))
    data = {}
    for seed in seeds:
        digits_cls, digits_det = (None, None)
        if cls_data is None or det_data is None:
            digits_cls, digits_det = prepare_digits(osp.join(work_dir, 'data'), quick,
                                                    seed)
        data[seed] = (cls_data or digits_cls, det_data or digits_det)
    if det_scale is None:
        det_scale = 128 if det_data is None else 320

    pool = _InProcess() if jobs == 1 else ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context('spawn'),
        initializer=_start_worker, initargs=(threads, ))
    runs = {seed: dict(seed=seed, classifiers={}, detection={}) for seed in seeds}
    pending = {}
    for seed in seeds:
        for method, _ in CLASSIFIER_CONFIGS:
            pending[pool.submit(classifier_job, method, seed,
                                osp.join(work_dir, f'seed{seed}'), data[seed][0],
                                cls_epochs, quick)] = ('classifiers', method, seed)
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                kind, method, seed = pending.pop(future)
                runs[seed][kind][method] = future.result()
                if kind == 'classifiers':
                    checkpoint = runs[seed][kind][method]['checkpoint']
                    pending[pool.submit(
                        detector_job, method, seed, osp.join(work_dir, f'seed{seed}'),
                        checkpoint, data[seed][1], det_epochs,
                        det_scale)] = ('detection', method, seed)
    finally:
        pool.shutdown(cancel_futures=True)

    results = dict(
        runs=[runs[seed] for seed in seeds],
        wall_seconds=time.time() - start,
        settings=dict(cls_data=cls_data or 'digits', det_data=det_data or 'digits',
                      data_roots={seed: data[seed] for seed in seeds},
                      cls_epochs=cls_epochs, det_epochs=det_epochs,
                      det_scale=det_scale, seeds=seeds, quick=quick, jobs=jobs,
                      threads=threads))
    write_report(results, work_dir)
    return results
