"""One training run per work directory: ``tools/train.py`` holds ``work_dir/train.lock``.

Two runs into one ``--work-dir`` would both write ``last_checkpoint``, ``epoch_N.pth``
and, when they start in the same second, one log folder: run 1's checkpoints are
overwritten by run 2's and ``--resume`` mixes them. :func:`hold_work_dir` creates the
lock file (atomically, ``O_EXCL``) with the PID, host, start time and command of the
run, and removes it when the run ends; a second run into the directory stops at once,
naming the first. A lock left by a run that was killed (its PID is gone on this host,
or now belongs to another process) is taken over with a warning.

Under a distributed launch only global rank 0 holds the lock (the ranks share the work
directory); reading a work directory (``tools/test.py``, the analysis tools) takes no
lock.
"""
import contextlib
import json
import os
import os.path as osp
import socket
import sys
import time
import warnings
from typing import Iterator, Optional

LOCK_NAME = 'train.lock'


class WorkDirInUseError(RuntimeError):
    """Another live run holds the work directory."""


def launch_rank() -> int:
    """The global rank from the launcher's environment (torchrun/``--launcher
    pytorch``: RANK; slurm: SLURM_PROCID; mpi: OMPI_COMM_WORLD_RANK), 0 when
    launched alone; read before the process group exists."""
    for name in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return 0


def _process_start(pid: int) -> Optional[str]:
    """The start time of process ``pid`` in clock ticks since boot (Linux), which
    tells a reused PID from the original; None where /proc does not say."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            # the command name (field 2) may hold spaces: count from its ')'
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict) -> bool:
    """Whether the process that wrote ``holder`` still runs (on this host)."""
    pid = holder.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    started = holder.get('process_start')
    return started is None or _process_start(pid) in (None, started)


def describe_holder(holder: dict) -> str:
    """``'PID 123 on host h since 2026-12-04 10:00:00 (command: python ...)'``."""
    since = holder.get('started')
    since = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since)) \
        if isinstance(since, (int, float)) else '?'
    return (f"PID {holder.get('pid')} on host {holder.get('host')} since {since} "
            f"(command: {holder.get('command')})")


def _read(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


def _create(path: str, record: dict) -> bool:
    """Write the lock file if there is none; False if one exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, 'w') as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    return True


def acquire_work_dir(work_dir: str, command: Optional[str] = None) -> str:
    """Take ``work_dir/train.lock`` for this process; returns its path.

    Raises:
        WorkDirInUseError: a live run on this host, or a run on another host (whose
            liveness cannot be told from here), holds it.
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    host = socket.gethostname()
    record = dict(pid=os.getpid(), host=host, started=time.time(),
                  process_start=_process_start(os.getpid()),
                  command=command or ' '.join([osp.basename(sys.executable)]
                                              + sys.argv))
    for _ in range(3):  # another run may take over a stale lock at the same time
        if _create(path, record):
            return path
        holder = _read(path)
        if holder is not None and holder.get('host') != host:
            raise WorkDirInUseError(
                f'work_dir {work_dir} is in use by another run: '
                f'{describe_holder(holder)} ({path}); pass another --work-dir, or, if '
                f'that run has ended, delete {path}')
        if holder is not None and _alive(holder):
            raise WorkDirInUseError(
                f'work_dir {work_dir} is in use by a live run: '
                f'{describe_holder(holder)}; wait for it to end or pass another '
                '--work-dir (two runs in one work_dir overwrite each other\'s '
                'checkpoints and logs)')
        what = describe_holder(holder) if holder is not None else \
            'an unreadable lock (the run was killed while writing it)'
        warnings.warn(f'work_dir {work_dir}: taking over {path} from a run that is '
                      f'gone: {what}')
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    raise WorkDirInUseError(f'work_dir {work_dir}: could not take {path}; another run '
                            'keeps taking it')


def release_work_dir(path: str) -> None:
    """Remove the lock file if this process still holds it."""
    holder = _read(path)
    if holder is not None and holder.get('pid') == os.getpid() \
            and holder.get('host') == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def hold_work_dir(work_dir: str, command: Optional[str] = None) -> Iterator[None]:
    """Hold ``work_dir`` for the body (global rank 0 only; other ranks pass)."""
    if launch_rank() != 0:
        yield
        return
    path = acquire_work_dir(work_dir, command)
    try:
        yield
    finally:
        release_work_dir(path)
