"""The GPU check: mmcds installed, fast and exact on a CUDA machine, in one command.

Behind ``tools/analysis_tools/gpu_check.sh --out DIR``. Within a time budget (default
570 s, so that the whole command fits 10 minutes) it runs, on the first GPU:

1. ``environment``: GPU, driver, torch, CUDA, cuDNN, Python, the OpenMMLab stack,
   mmcv's ops (CPU-only or CUDA) and what ``--amp`` picks here;
2. ``tests``: ``tests/test_gpu.py`` (the tests that need CUDA: a training step without
   host synchronisation, bf16 AMP, CDS predict = CE's kernels, mmcv CUDA ops);
3. ``r50_bs32``, ``r50_bs256``: the benchmark tool on the ResNet-50 ImageNet configs,
   CE / DSN / CDS (+ the plain-PyTorch CDS step), eager / amp / amp+channels_last;
   ``c100``: CIFAR-100 ResNet-18 CE / CDS;
4. ``detection``: one Faster R-CNN training iteration through ``tools/train.py``
   (fp32 and ``--amp``) on mmcv's CUDA ops;
5. ``resume``: ``tools/train.py`` killed with SIGKILL mid-epoch, ``--resume``d, and
   its final weights compared bit for bit with an uninterrupted run;
6. ``syncs``: where a full ``Runner`` training iteration still waits for the GPU
   (``torch.cuda.set_sync_debug_mode('warn')``; mmengine's logging reads the losses);
7. ``compile``: ``torch.compile`` rows (default mode at batch 256,
   ``reduce-overhead``, i.e. CUDA graphs, at batch 32) with what time is left;

then ``targets``: the issue's targets read off the tables. Everything is written
to ``DIR`` (``summary.md`` holds it all; each step's log beside it). A step that fails
or runs out of time is reported and the next one runs.

Offline: the classification data are class folders given with ``--data-root``
(``train/<class>``, ``test/<class>``) or generated from scikit-learn's bundled digits;
the detector's are generated digit canvases in COCO format.

``--dry-run`` runs the same steps on the CPU with tiny sizes (a test runs it): a
rehearsal of the script, whose numbers mean nothing.
"""
import os
import os.path as osp
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .gpu_check_report import (environment_report, step_table, syncs_report,
                               targets_report)

# ResNet-50 at a quarter of its width for the CPU rehearsal.
NARROW_R50 = ('model.backbone.base_channels=8', 'model.backbone.stem_channels=8',
              'model.head.in_channels=256')
NARROW_R18 = ('model.backbone.base_channels=8', 'model.backbone.stem_channels=8',
              'model.head.in_channels=64')


@dataclass
class Plan:
    """What the check runs: the GPU sizes, or the CPU rehearsal's (``dry``)."""
    dry: bool
    r50_batches: Tuple[int, ...] = (32, 256)
    r50_switches: Tuple[str, ...] = ('eager', 'amp', 'amp+channels_last')
    c100_batch: int = 128
    c100_switches: Tuple[str, ...] = ('eager', 'amp+channels_last')
    compile_runs: Tuple[Tuple[int, str], ...] = (
        (256, 'amp+channels_last+compile'),
        (32, 'amp+channels_last+compile=reduce-overhead'))
    compile_backend: Optional[str] = None
    timing: Tuple[int, int, int, int] = (3, 4, 3, 3)  # warm-up, steps, rounds, predict
    workers: int = 8
    r50_options: Tuple[str, ...] = ()
    c100_options: Tuple[str, ...] = ()
    image_size: int = 256
    # the longest each kind of step may take (s); the budget cuts them shorter
    limits: Dict[str, int] = field(default_factory=lambda: dict(
        environment=60, tests=150, r50=180, c100=90, detection=150, resume=180,
        syncs=90, compile=400))

    @classmethod
    def for_run(cls, dry: bool, cpus: int) -> 'Plan':
        if not dry:
            return cls(False, workers=max(2, min(8, cpus // 2)))
        return cls(True, r50_batches=(2, ), r50_switches=('eager', 'amp+channels_last'),
                   c100_batch=4, c100_switches=('eager', ), compile_runs=(),
                   timing=(1, 1, 1, 1), workers=0,
                   r50_options=NARROW_R50, c100_options=NARROW_R18, image_size=32)


class Check:
    """Runs the steps against a clock and collects their markdown."""

    def __init__(self, repo: str, out: str, plan: Plan, budget: float,
                 data_root: Optional[str] = None, python: str = sys.executable):
        self.repo, self.out, self.plan = repo, osp.abspath(out), plan
        self.deadline = time.time() + budget
        self.python = python
        self.work = tempfile.mkdtemp(prefix='mmcds_gpu_check_')
        self.data_root = data_root
        self.sections: List[Tuple[str, str]] = []
        self.steps: List[Tuple[str, str, float, float]] = []
        os.makedirs(self.out, exist_ok=True)

    # ---------------------------------------------------------------- plumbing
    def remaining(self) -> float:
        return self.deadline - time.time()

    def env(self) -> dict:
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        env['PYTHONPATH'] = os.pathsep.join(
            [self.repo] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        if self.plan.dry:
            env['OMP_NUM_THREADS'] = '1'
            env['CUDA_VISIBLE_DEVICES'] = ''
        return env

    def command(self, name: str, argv: Sequence[str], timeout: float,
                env: Optional[dict] = None) -> Tuple[int, str]:
        """Run ``argv`` (``python -m MODULE ...``, ``python -c CODE ...`` or ``python
        SCRIPT ...``) from the repository root, output to ``<out>/<name>.log``;
        returns the exit status (124: killed at ``timeout``) and the output.

        On the GPU each command is a process (group) of its own, so that a CUDA error
        or a hang cannot take the other steps with it; the CPU rehearsal runs them in
        this process (the same code, without an interpreter start per step)."""
        log = osp.join(self.out, f'{name}.log')
        with open(log, 'a') as f:
            f.write(f'$ {" ".join(argv)}\n')
            f.flush()
            if self.plan.dry:
                status = run_in_process(argv, f, self.repo)
            else:
                status = run_process(argv, f, self.repo, env or self.env(), timeout)
        with open(log) as f:
            return status, f.read()

    def step(self, name: str, run: Callable[[float], str]) -> None:
        """Run one step with what the budget allows; record its status and text."""
        limit = min(self.plan.limits[name.split('_bs')[0]], self.remaining())
        if limit < 10:
            self.steps.append((name, 'skipped: time budget spent', 0.0, 0.0))
            return
        start, cpu = time.time(), cpu_seconds()
        print(f'[gpu_check] {name} (up to {limit:.0f} s)', flush=True)
        try:
            text = run(limit)
            status = 'ok'
        except StepFailed as error:
            text, status = str(error), 'FAILED'
        except Exception as error:  # noqa: BLE001  report it, go on with the others
            text, status = f'{type(error).__name__}: {error}', 'FAILED'
        seconds = time.time() - start
        self.steps.append((name, status, seconds, cpu_seconds() - cpu))
        self.sections.append((name, text))
        with open(osp.join(self.out, f'{name}.md'), 'w') as f:
            f.write(text + '\n')
        print(f'[gpu_check] {name}: {status} ({seconds:.0f} s)', flush=True)

    # ------------------------------------------------------------------- data
    def class_folders(self) -> str:
        """The classification data: ``--data-root``, or digits written once."""
        if self.data_root:
            return self.data_root
        root = osp.join(self.work, 'digits')
        if not osp.isdir(root):
            from ..demo.digits_data import write_digits_classification
            write_digits_classification(root, size=self.plan.image_size)
        return root

    # ------------------------------------------------------------------ steps
    def benchmark(self, name: str, configs: Sequence[str], batch: int,
                  switches: Sequence[str], options: Sequence[str], limit: float,
                  compile_backend: Optional[str] = None) -> str:
        warmup, steps, rounds, predict = self.plan.timing
        table = osp.join(self.out, f'{name}_table.md')
        argv = [self.python, 'tools/analysis_tools/benchmark.py', *configs,
                '--batch-size', str(batch), '--switches', *switches,
                '--data-root', self.class_folders(), '--num-workers',
                str(self.plan.workers), '--warmup', str(warmup), '--steps', str(steps),
                '--rounds', str(rounds), '--predict-steps', str(predict),
                '--work-dir', osp.join(self.work, name), '--out', table]
        if compile_backend:
            argv += ['--compile-backend', compile_backend]
        if options:
            argv += ['--cfg-options', *options]
        status, output = self.command(name, argv, limit)
        if status != 0 or not osp.exists(table):
            raise StepFailed(f'benchmark exited with {status}'
                             f'{" (time limit)" if status == 124 else ""}:\n\n'
                             f'```\n{tail(output)}\n```')
        with open(table) as f:
            return f'```shell\n{" ".join(argv[1:])}\n```\n\n{f.read()}'

    def train_command(self, config: str, work_dir: str, *extra: str
                      ) -> Tuple[List[str], dict]:
        """``tools/train.py`` and its environment, with deterministic cuDNN and
        algorithms where they exist (a bit-identity check needs them; the others only
        warn: on CUDA, e.g. the pooling backward has no deterministic twin)."""
        env = dict(self.env(), CUBLAS_WORKSPACE_CONFIG=':4096:8')
        return [self.python, '-c', TRAIN_BOOT, 'tools/train.py', config, '--work-dir',
                work_dir, *extra], env

    def train_tool(self, name: str, config: str, work_dir: str, limit: float,
                   *extra: str) -> Tuple[int, str]:
        argv, env = self.train_command(config, work_dir, *extra)
        return self.command(name, argv, limit, env)

    def train_in_process(self, name: str, config: str, work_dir: str, *extra: str
                         ) -> str:
        """``tools/train.py`` as :meth:`train_command` runs it, in this process;
        returns the text of the logs in ``work_dir``."""
        argv, _ = self.train_command(config, work_dir, *extra)
        with open(osp.join(self.out, f'{name}.log'), 'a') as log:
            log.write(f'$ {" ".join(argv)}\n')
            status = run_in_process(argv, log, self.repo)
        text = work_dir_logs(work_dir)
        if status != 0:
            raise StepFailed(f'`tools/train.py {" ".join(argv[4:])}` exited with '
                             f'{status}; see {name}.log:\n\n```\n{tail(text)}\n```')
        return text


def work_dir_logs(work_dir: str) -> str:
    """The text of the runner logs in ``work_dir`` (one folder per run)."""
    import glob
    return ''.join(open(log).read() for log in
                   sorted(glob.glob(osp.join(work_dir, '*', '*.log'))))


TRAIN_BOOT = ('import runpy, sys, torch; torch.backends.cudnn.deterministic = True; '
              'torch.use_deterministic_algorithms(True, warn_only=True); '
              "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def run_process(argv: Sequence[str], log, cwd: str, env: dict, timeout: float) -> int:
    """``argv`` in its own process group, output to ``log``; 124 on timeout."""
    process = subprocess.Popen(list(argv), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                               env=env, start_new_session=True)
    try:
        return process.wait(timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return 124


def run_in_process(argv: Sequence[str], log, cwd: str) -> int:
    """``python -m MODULE ...`` / ``-c CODE ...`` / ``SCRIPT ...`` in this process,
    from ``cwd``, its Python-level output to ``log``; the exit status (1 for an
    exception). What it changes of ``sys.argv``, the working directory and torch's
    determinism switches is restored."""
    import contextlib
    import runpy
    import traceback

    import torch
    saved = (sys.argv, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(), os.getcwd())
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            if argv[1] == '-m':
                sys.argv = [argv[2], *argv[3:]]
                runpy.run_module(argv[2], run_name='__main__', alter_sys=True)
            elif argv[1] == '-c':
                sys.argv = ['-c', *argv[3:]]
                exec(compile(argv[2], '<gpu_check>', 'exec'), {'__name__': '__main__'})
            else:
                sys.argv = list(argv[1:])
                runpy.run_path(argv[1], run_name='__main__')
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except Exception:  # noqa: BLE001  the step reports it
        traceback.print_exc(file=log)
        return 1
    finally:
        sys.argv = saved[0]
        torch.backends.cudnn.deterministic = saved[1]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])
        os.chdir(saved[4])


class StepFailed(Exception):
    """A step's own failure, already written as markdown."""


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children."""
    import resource
    return sum(getattr(resource.getrusage(who), field)
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ('ru_utime', 'ru_stime'))


def tail(text: str, lines: int = 40) -> str:
    return '\n'.join(text.rstrip().splitlines()[-lines:])


def run_check(repo: str, out: str, dry_run: bool = False, budget: float = 570,
              data_root: Optional[str] = None) -> str:
    """Run every step; returns the markdown of ``<out>/summary.md``."""
    if dry_run:
        os.environ['CUDA_VISIBLE_DEVICES'] = ''  # the CPU, even on a GPU machine
    import torch
    if not dry_run and not torch.cuda.is_available():
        raise SystemExit('gpu_check: torch sees no CUDA device; run it on a GPU machine '
                         '(or --dry-run for the CPU rehearsal)')
    from . import gpu_check_steps as steps
    # deterministic cuBLAS for the resume check: read when cuBLAS starts
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    plan = Plan.for_run(dry_run, os.cpu_count() or 2)
    check = Check(repo, out, plan, budget, data_root)
    started = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    try:
        check.step('environment', lambda limit: environment_report(check))
        check.step('tests', lambda limit: steps.cuda_tests(check, limit))
        for batch in plan.r50_batches:
            check.step(f'r50_bs{batch}',
                       lambda limit, batch=batch: steps.r50_table(check, batch, limit))
        check.step('c100', lambda limit: steps.c100_table(check, limit))
        check.step('detection', lambda limit: steps.detection(check, limit))
        check.step('resume', lambda limit: steps.resume(check, limit))
        check.step('syncs', lambda limit: syncs_report(check))
        check.step('compile', lambda limit: steps.compile_tables(check, limit))
    finally:
        shutil.rmtree(check.work, ignore_errors=True)
    mode = 'dry run on the CPU: tiny sizes, the numbers mean nothing' if dry_run \
        else 'GPU'
    header = [f'# mmcds GPU check ({mode})', '',
              f'{started}; {platform.node()}; command: `tools/analysis_tools/'
              f'gpu_check.sh --out {out}{" --dry-run" if dry_run else ""}`', '',
              step_table(check.steps), '', targets_report(check.sections, dry_run)]
    text = '\n'.join(header + [f'\n## {name}\n\n{body}' for name, body in check.sections])
    with open(osp.join(check.out, 'summary.md'), 'w') as f:
        f.write(text + '\n')
    return text
