"""Time training steps, data loading and inference of configs as users run them.

Behind ``tools/analysis_tools/benchmark.py``. Every row is a config under a switch
set (``eager``, ``channels_last``, ``amp``, ``compile`` or a ``+`` of them) built with
``Runner.from_cfg`` exactly as ``tools/train.py`` builds it, so the config's own data
loader, data preprocessor, optimizer wrapper and ``compile`` setting are what is timed.
The rows take turns (interleaved rounds, the order rotated every round), so that
noise from a shared machine hits every row alike; ratios are taken round by round
and reported as median [min-max] over the rounds.
"""
import ctypes
import gc
import os
import os.path as osp
import statistics
import time
from contextlib import contextmanager
from copy import deepcopy
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from .benchmark_config import (SWITCHES, apply_switch, compile_options,  # noqa: F401
                               parse_switch, prepare_config, switch_name)
from .plain_cds import PlainCDSStep
from .report import markdown_table

METHOD_NAMES = {'ImageClassifier': 'CE', 'DSNClassifier': 'DSN',
                'DKSClassifier': 'DKS', 'SelfConClassifier': 'SelfCon',
                'CDSClassifier': 'CDS'}
REFERENCE = 'plain CDS'


def sync(device: torch.device) -> None:
    """Wait for the device's queued kernels (CUDA runs asynchronously)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory of a piece of work: CUDA's ``max_memory_allocated``, or on the CPU
    the growth of the process's resident set over its size before the work.

    On the CPU the kernel's high-water mark (``VmHWM``) is reset through
    ``/proc/self/clear_refs`` and glibc is asked to hand freed memory back first
    (``malloc_trim``), so memory freed by an earlier row is not counted as free;
    where either is unavailable the value is NaN.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.base = 0
        try:
            self.libc = ctypes.CDLL('libc.so.6')
        except OSError:
            self.libc = None

    @staticmethod
    def _status(field: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
        raise OSError(f'/proc/self/status has no {field}')

    def start(self) -> None:
        if self.device.type == 'cuda':
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            if self.libc is not None:
                self.libc.malloc_trim(0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.base = self._status('VmRSS')
        except OSError:
            self.base = None

    def stop(self) -> float:
        """Bytes: peak allocated (CUDA) or peak RSS growth (CPU); NaN if unknown."""
        if self.device.type == 'cuda':
            sync(self.device)
            return float(torch.cuda.max_memory_allocated(self.device))
        if self.base is None:
            return float('nan')
        try:
            return float(self._status('VmHWM') - self.base)
        except OSError:
            return float('nan')


def slice_batch(batch: dict, size: int) -> dict:
    """The first ``size`` images of a collated batch (tensor or list of tensors)."""
    inputs = batch['inputs']
    if isinstance(inputs, torch.Tensor):
        inputs = inputs[:size]
    else:
        inputs = [x[:size] for x in inputs]
    return dict(inputs=inputs, data_samples=batch['data_samples'][:size])


class Row:
    """One benchmark row: timed training steps and predictions, and their results."""

    def __init__(self, label: str, method: str, switch: tuple):
        self.label, self.method, self.switch = label, method, switch
        self.data_s: List[float] = []
        self.step_s: List[float] = []
        self.round_step_s: List[float] = []
        self.predict_s: List[float] = []
        self.round_predict_s: List[float] = []
        self.memory: List[float] = []
        self.batch_size = 0
        self.predict_batch_size = 0
        self.first_step_s = float('nan')  # the first warm-up step, compiling included

    def measure(self, steps: int, memory: PeakMemory) -> None:
        """``steps`` timed training steps; the round's median is kept for the
        round-by-round ratios."""
        step_s = []
        with quiet_collector():
            for _ in range(steps):
                memory.start()
                data_s, compute_s = self.train_step()
                self.memory.append(memory.stop())
                self.data_s.append(data_s)
                step_s.append(compute_s)
        self.step_s += step_s
        self.round_step_s.append(statistics.median(step_s))

    def measure_predict(self, predict_steps: int) -> None:
        """``predict_steps`` timed predictions; the round's median kept."""
        if not (predict_steps and self.predict_batch_size):
            return
        with quiet_collector():
            predict_s = [self.predict() for _ in range(predict_steps)]
        self.predict_s += predict_s
        self.round_predict_s.append(statistics.median(predict_s))


@contextmanager
def quiet_collector():
    """Python's garbage collector run before and held off during timed work (as
    ``timeit`` does): a collection of what an earlier row left would otherwise land
    in whichever row happens to run next."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class RunnerRow(Row):
    """A config run by ``Runner.from_cfg`` under a switch set.

    The runner is prepared as ``Runner.train`` prepares it (train loop, optimizer
    wrapper, ``before_run`` hooks, weight init, ``compile``, ``before_train`` hooks);
    a step is the train loop's ``model.train_step(data, optim_wrapper)`` on the next
    batch of the config's own train dataloader. Parameter schedulers and the
    per-iteration hooks (logging, checkpoints) are left out of the timing.
    """

    def __init__(self, label: str, cfg: Config, switch: tuple,
                 predict_batch_size: Optional[int] = None,
                 compile_backend: Optional[str] = None):
        method = METHOD_NAMES.get(cfg.model.type, cfg.model.type)
        super().__init__(label, method, switch)
        cfg = deepcopy(cfg)
        apply_switch(cfg, switch, compile_backend)
        self.compile_options = compile_options(switch, compile_backend)
        runner = Runner.from_cfg(cfg)
        runner._train_loop = runner.build_train_loop(runner._train_loop)
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        runner.call_hook('before_run')
        runner._init_model_weights()
        runner.optim_wrapper.initialize_count_status(runner.model, 0, runner.max_iters)
        runner._maybe_compile('train_step')
        runner.call_hook('before_train')
        self.runner = runner
        self.model = runner.model
        self.module = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        self.device = next(self.module.parameters()).device
        self.loader = runner.train_dataloader
        self.batches = iter(self.loader)
        self.batch_size = self.loader.batch_size
        self.amp_dtype = getattr(runner.optim_wrapper, 'cast_dtype', None)
        if 'amp' in switch and self.amp_dtype is None:
            self.amp_dtype = torch.float16  # AmpOptimWrapper's default on CUDA
        self.predict_batch = None
        size = predict_batch_size or self.batch_size
        loader = runner.test_dataloader if runner._test_dataloader is not None \
            else runner.val_dataloader
        if loader is not None:
            self.predict_batch = slice_batch(next(iter(loader)), size)
            self.predict_batch_size = len(self.predict_batch['data_samples'])

    def next_batch(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def train_step(self):
        self.model.train()
        start = time.perf_counter()
        data = self.next_batch()
        loaded = time.perf_counter()
        self.model.train_step(data, optim_wrapper=self.runner.optim_wrapper)
        sync(self.device)
        return loaded - start, time.perf_counter() - loaded

    def predict(self) -> float:
        """Seconds for ``test_step`` (preprocessing + ``predict`` mode) on the
        prediction batch, in eval mode, under the row's autocast."""
        self.model.eval()
        sync(self.device)
        start = time.perf_counter()
        with torch.no_grad(), torch.autocast(device_type=self.device.type,
                                             dtype=self.amp_dtype,
                                             enabled=self.amp_dtype is not None):
            self.model.test_step(self.predict_batch)
        sync(self.device)
        self.model.train()
        return time.perf_counter() - start


class ReferenceRow(Row):
    """:class:`~mmcds.experiments.plain_cds.PlainCDSStep` on a copy of a CDS row's
    model (same initial weights), fed from that row's own dataloader."""

    def __init__(self, cds_row: RunnerRow, optimizer: dict):
        super().__init__(f'{REFERENCE} {switch_name(cds_row.switch)}', REFERENCE,
                         cds_row.switch)
        self.source = cds_row
        self.device = cds_row.device
        self.batch_size = cds_row.batch_size
        self.step_fn = PlainCDSStep(
            deepcopy(cds_row.module), optimizer,
            amp_dtype=cds_row.amp_dtype if 'amp' in self.switch else None,
            channels_last='channels_last' in self.switch,
            compile=cds_row.compile_options)

    def train_step(self):
        start = time.perf_counter()
        data = self.source.next_batch()
        views = [v.to(self.device, non_blocking=True) for v in data['inputs']]
        labels = torch.cat([s.gt_label for s in data['data_samples']]).to(self.device)
        loaded = time.perf_counter()
        self.step_fn(views, labels)
        sync(self.device)
        return loaded - start, time.perf_counter() - loaded


def build_rows(cfgs: Dict[str, Config], switches: Sequence[tuple],
               reference: bool = True,
               predict_batch_size: Optional[int] = None,
               compile_backend: Optional[str] = None) -> List[Row]:
    """A :class:`RunnerRow` per config and switch set, and a reference row per
    switch set for the first CDS config."""
    rows = []
    for switch in switches:
        cds_row = None
        for label, cfg in cfgs.items():
            row = RunnerRow(f'{label} {switch_name(switch)}', cfg, switch,
                            predict_batch_size, compile_backend)
            rows.append(row)
            if cds_row is None and row.method == 'CDS':
                cds_row = row
        if reference and cds_row is not None:
            rows.append(ReferenceRow(
                cds_row, dict(cds_row.runner.cfg.optim_wrapper.optimizer)))
    return rows


def run_rounds(rows: Sequence[Row], warmup: int, steps: int, rounds: int,
               predict_steps: int) -> None:
    """Warm every row up, then ``rounds`` rounds of ``steps`` timed training steps
    per row, then (after one untimed round) ``rounds`` rounds of ``predict_steps``
    predictions per row, the row order rotated every round.

    Predictions are timed apart from training: right after a row's training steps
    its loader's workers refill their queue (for CDS, two augmented views per
    image), and that work on the CPU would slow a predict step that launches
    kernels from the same CPU, charging one method's data pipeline to its
    inference."""
    if not rows:
        return
    memory = PeakMemory(rows[0].device)
    for row in rows:
        for index in range(warmup):
            data_s, compute_s = row.train_step()
            if index == 0:
                row.first_step_s = data_s + compute_s
        if predict_steps and row.predict_batch_size:
            row.predict()
    for index in range(rounds):
        for row in rotated(rows, index):
            row.measure(steps, memory)
    if not predict_steps:
        return
    for row in rows:
        if row.predict_batch_size:
            row.predict()
    for index in range(rounds):
        for row in rotated(rows, index):
            row.measure_predict(predict_steps)


def rotated(rows: Sequence[Row], shift: int) -> List[Row]:
    shift %= len(rows)
    return list(rows[shift:]) + list(rows[:shift])


def round_ratio(row: Row, base: Optional[Row], field: str = 'round_step_s') -> str:
    """median [min-max] over the rounds of row / base, or '-'."""
    if base is None:
        return '-'
    mine, theirs = getattr(row, field), getattr(base, field)
    if not mine or len(mine) != len(theirs):
        return '-'
    ratios = [a / b for a, b in zip(mine, theirs)]
    return f'{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]'


def quartiles(values: Sequence[float]) -> str:
    """'median [q1-q3]' in milliseconds."""
    if len(values) < 2:
        return f'{1e3 * values[0]:.1f}' if values else '-'
    q1, q2, q3 = statistics.quantiles(values, n=4, method='inclusive')
    return f'{1e3 * q2:.1f} [{1e3 * q1:.1f}-{1e3 * q3:.1f}]'


TABLE_COLUMNS = ('row', 'step ms', 'data ms', 'train img/s', 'x CE', 'x plain CDS',
                 'x eager', 'peak mem MiB', 'predict ms', 'predict img/s',
                 'predict x CE')


def format_table(rows: Sequence[Row]) -> str:
    """The markdown table of the measured rows.

    step ms: ``train_step`` (preprocessing, forward, backward, update), median
    [quartiles] over every timed step; data ms: waiting for the next batch of the
    config's loader; train img/s: images (not views) per second of step + data;
    x CE / x plain CDS / x eager: this row's step time over the CE row's, the plain
    reference's, the same config's eager row's, round by round; predict: ``test_step``
    in eval mode on one batch.
    """
    by_key = {(row.method, row.switch): row for row in rows}
    eager = {row.label.rsplit(' ', 1)[0]: row for row in rows if not row.switch}
    table = []
    for row in rows:
        ce = by_key.get(('CE', row.switch))
        ref = by_key.get((REFERENCE, row.switch)) if row.method == 'CDS' \
            or row.method == REFERENCE else None
        base_eager = eager.get(row.label.rsplit(' ', 1)[0]) if row.switch else None
        step = statistics.median(row.step_s)
        data = statistics.median(row.data_s)
        memory = max(row.memory) / 2**20 if row.memory else float('nan')
        if row.predict_s:
            predict = statistics.median(row.predict_s)
            predict_cells = [quartiles(row.predict_s),
                             f'{row.predict_batch_size / predict:.0f}',
                             round_ratio(row, ce, 'round_predict_s')
                             if ce is not None and ce.predict_s else '-']
        else:
            predict_cells = ['-', '-', '-']
        cells = [row.label, quartiles(row.step_s), f'{1e3 * data:.1f}',
                 f'{row.batch_size / (step + data):.0f}',
                 round_ratio(row, ce), round_ratio(row, ref),
                 round_ratio(row, base_eager), f'{memory:.0f}', *predict_cells]
        table.append(cells)
    return markdown_table(TABLE_COLUMNS, table, align='l' * len(TABLE_COLUMNS))


def first_steps(rows: Sequence[Row]) -> str:
    """The first warm-up step of every row in seconds (``compile`` compiles there)."""
    return 'first warm-up step, s (torch.compile compiles here): ' + ', '.join(
        f'{row.label} {row.first_step_s:.1f}' for row in rows)


def machine_description() -> str:
    """The report's machine line plus torch threads and load averages, for the
    table's header and footer (the load says how busy a shared machine was)."""
    from .report import machine_description as machine
    text = f'{machine()}; torch threads {torch.get_num_threads()}'
    if hasattr(os, 'getloadavg'):
        text += '; load average (1/5/15 min): ' + ' '.join(
            f'{x:.2f}' for x in os.getloadavg())
    return text


def config_label(path: str) -> str:
    """``configs/cds/x.py`` -> ``cds/x``."""
    return osp.join(osp.basename(osp.dirname(path)),
                    osp.splitext(osp.basename(path))[0])
