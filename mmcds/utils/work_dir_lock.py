"""One training run per work directory: ``tools/train.py`` holds ``work_dir/train.lock``.

Two runs into one ``--work-dir`` would both write ``last_checkpoint``, ``epoch_N.pth``
and, when they start in the same second, one log folder: run 1's checkpoints are
overwritten by run 2's and ``--resume`` mixes them. :func:`hold_work_dir` takes an
exclusive ``flock`` on the lock file for the whole run and writes the PID, host, start
time and command into it; a second run into the directory cannot take the lock and
stops at once, naming the first. The operating system drops the lock when the process
ends, however it ends, so a lock file left by a killed run (SIGKILL, a crash, a lost
node) no longer holds anything: the next run takes it over, with a warning naming the
run that left it.

Under a distributed launch only global rank 0 holds the lock (the ranks share the work
directory); reading a work directory (``tools/test.py``, the analysis tools) takes no
lock.
"""
import contextlib
import errno
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
import warnings
from typing import Iterator, Optional

LOCK_NAME = 'train.lock'
# What flock raises where the file system cannot lock at all (Lustre mounted without
# -o flock/localflock: ENOSYS; some NFS and FUSE mounts: ENOLCK, EOPNOTSUPP, EINVAL).
_NO_LOCKING = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)


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


def describe_holder(holder: Optional[dict]) -> str:
    """``'PID 123 on host h since 2026-12-04 10:00:00 (command: python ...)'``."""
    if not holder:
        return 'a run whose details were not written yet'
    since = holder.get('started')
    since = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since)) \
        if isinstance(since, (int, float)) else '?'
    return (f"PID {holder.get('pid')} on host {holder.get('host')} since {since} "
            f"(command: {holder.get('command')})")


def _read(fd: int) -> Optional[dict]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b''
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        holder = json.loads(data.decode()) if data.strip() else None
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


class WorkDirLock:
    """The lock of one work directory, held by this process (see the module)."""

    def __init__(self, work_dir: str, command: Optional[str] = None) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.command = command or ' '.join([osp.basename(sys.executable), *sys.argv])
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`WorkDirInUseError` naming its holder."""
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise WorkDirInUseError(
                    f'work_dir {self.work_dir} is in use by a live run: '
                    f'{describe_holder(holder)}; wait for it to end or pass another '
                    "--work-dir (two runs in one work_dir overwrite each other's "
                    'checkpoints and logs)') from None
            except OSError as error:
                os.close(fd)
                if error.errno not in _NO_LOCKING:
                    raise
                # The run must not fail because the file system cannot lock: it
                # goes on unguarded, as before the lock existed, and says so.
                warnings.warn(
                    f'work_dir {self.work_dir}: the file system cannot lock '
                    f'{self.path} ({error.strerror}), so nothing stops a second run '
                    'from writing into this work_dir at the same time; give each run '
                    'its own --work-dir (or mount with -o flock)')
                return
            # The holder before us may have removed the file between our open and
            # our flock: then we hold a lock on a file nobody else will see.
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:
                break
            os.close(fd)
        previous = _read(fd)
        if previous is not None:
            warnings.warn(f'work_dir {self.work_dir}: taking over {self.path} from a '
                          f'run that is gone: {describe_holder(previous)}')
        record = dict(pid=os.getpid(), host=socket.gethostname(), started=time.time(),
                      command=self.command)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (a run that ended leaves none)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        os.close(self._fd)
        self._fd = None


@contextlib.contextmanager
def hold_work_dir(work_dir: str, command: Optional[str] = None) -> Iterator[None]:
    """Hold ``work_dir`` for the body (global rank 0 only; other ranks pass).

    Raises:
        WorkDirInUseError: another live run holds it.
    """
    if launch_rank() != 0:
        yield
        return
    lock = WorkDirLock(work_dir, command)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
