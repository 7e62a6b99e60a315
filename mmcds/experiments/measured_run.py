"""Train and test one config in this process, measuring what a comparison reports."""
import resource
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from .progress import ProgressHook

# What inference runs in an mmpretrain ImageClassifier (and in our classifiers).
INFERENCE_MODULES = ('backbone', 'neck', 'head')


def _maxrss_mib() -> float:
    # Linux reports kilobytes, macOS bytes.
    scale = 1. if sys.platform == 'darwin' else 1024.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


class MeasureHook(Hook):
    """Measure training time, images seen, peak memory and validation results.

    Times training (``runner.train()`` from its first to its last iteration hook,
    data loading included, validation epochs excluded), counts the images trained
    on, and reads peak memory: the process's peak resident set size on the CPU,
    ``max_memory_allocated`` on CUDA (synchronised). Keeps every validation's
    metrics in ``val_history`` as ``(epochs trained, metrics)``."""
    priority = 'VERY_LOW'

    def __init__(self):
        self.images = 0
        self.cuda = torch.cuda.is_available()
        self.val_seconds = 0.
        self.val_history: List[tuple] = []

    def before_train(self, runner) -> None:
        """Start the clock and the memory counters."""
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.rss_start = _maxrss_mib()
        self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        """Count the batch's images (a two-view batch counts each image once)."""
        self.images += len(data_batch['data_samples'])

    def before_val_epoch(self, runner) -> None:
        """Stop counting training time while the model is validated."""
        self.val_start = time.perf_counter()

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Keep the metrics (``runner.epoch`` counts the epochs trained so far)."""
        self.val_history.append((runner.epoch, dict(metrics or {})))
        self.val_seconds += time.perf_counter() - self.val_start

    def after_train(self, runner) -> None:
        """Stop the clock and read the peaks."""
        if self.cuda:
            torch.cuda.synchronize()
            self.cuda_peak = torch.cuda.max_memory_allocated() / 2**20
        self.seconds = time.perf_counter() - self.start - self.val_seconds
        self.rss_peak = _maxrss_mib()


def scalar_history(runner: Runner, key: str) -> List[float]:
    """Every logged value of the training scalar ``key`` (e.g. ``'loss'``)."""
    if f'train/{key}' not in runner.message_hub.log_scalars:
        return []
    return runner.message_hub.get_scalar(f'train/{key}').data[0].tolist()


def calibration_metric(runner: Runner):
    """The test evaluator's calibration metric after ``runner.test()`` (the one
    that kept per-sample ``last_confidences``, e.g. ``ExpectedCalibrationError``),
    or None."""
    for metric in runner.test_evaluator.metrics:
        if hasattr(metric, 'last_confidences'):
            return metric
    return None


def _calibration_samples(runner: Runner) -> Optional[Dict[str, list]]:
    metric = calibration_metric(runner)
    if metric is None:
        return None
    samples = dict(confidences=list(metric.last_confidences),
                   correct=[bool(c) for c in metric.last_correct])
    if hasattr(metric, 'last_scores'):  # with keep_scores=True
        samples.update(scores=metric.last_scores, labels=metric.last_labels)
    return samples


def measured_run(cfg: Config, history_keys=('loss', ),
                 label: Optional[str] = None,
                 before_train: Optional[Callable[[Runner], Dict]] = None,
                 after_test: Optional[Callable[[Runner], Dict]] = None) -> Dict:
    """Build a runner from ``cfg``, train, test, and return what was measured.

    With a ``label`` (e.g. ``'CDS seed 0'``), a :class:`ProgressHook` logs a line per
    finished epoch: the label, the epoch and the time left. ``before_train`` and
    ``after_test`` are called with the runner (e.g. to count FLOPs on the untrained
    model, or to evaluate on a held-out split); the dicts they return are merged
    into the result.

    Returns:
        dict: ``metrics`` (the test evaluators' results), ``train_seconds``,
        ``train_images``, ``sec_per_image``, ``peak_rss_mib``,
        ``rss_train_start_mib``, ``peak_cuda_mib`` (None on the CPU),
        ``val_history`` (``[(epochs trained, {metric: value})]`` of the validations
        during training; empty without), ``params_train``
        and ``params_test`` (parameters of the whole model / of what inference runs),
        ``train_size``, ``history`` (``{key: values}`` of the logged training
        scalars in ``history_keys``), ``calibration`` (the ECE metric's per-sample
        ``confidences`` and ``correct``, with its ``keep_scores`` also ``scores``
        and ``labels``; None without that metric), ``log_dir``,
        ``device`` and ``torch_threads``, plus the callbacks' keys.
    """
    runner = Runner.from_cfg(cfg)
    measure = MeasureHook()
    runner.register_hook(measure)
    if label is not None:
        runner.register_hook(ProgressHook(label))
    model = runner.model
    params_train = sum(p.numel() for p in model.parameters())
    params_test = sum(p.numel() for name in INFERENCE_MODULES
                      if getattr(model, name, None) is not None
                      for p in getattr(model, name).parameters())
    extra = dict(before_train(runner)) if before_train else {}
    runner.train()
    metrics = runner.test()
    if after_test:
        extra.update(after_test(runner))
    return dict(**extra,
        metrics={k: float(v) if not hasattr(v, 'tolist') else v.tolist()
                 for k, v in metrics.items()},
        train_seconds=measure.seconds, train_images=measure.images,
        sec_per_image=measure.seconds / max(measure.images, 1),
        peak_rss_mib=measure.rss_peak, rss_train_start_mib=measure.rss_start,
        peak_cuda_mib=getattr(measure, 'cuda_peak', None),
        val_history=[(epoch, {k: float(v) for k, v in values.items()})
                     for epoch, values in measure.val_history],
        params_train=params_train, params_test=params_test,
        train_size=len(runner.train_dataloader.dataset),
        history={key: scalar_history(runner, key) for key in history_keys},
        calibration=_calibration_samples(runner),
        log_dir=runner.log_dir,
        device='cuda' if measure.cuda else 'cpu',
        torch_threads=torch.get_num_threads())
