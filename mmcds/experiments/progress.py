"""One progress line per finished epoch of a long run (the comparison, the demo)."""
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

# What the comparison's parent process looks for in a child's output.
PROGRESS_TAG = '[progress]'


def format_seconds(seconds: float) -> str:
    """``'42 s'``, ``'3 min 05 s'``, ``'1 h 02 min'``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    if seconds < 3600:
        return f'{seconds // 60} min {seconds % 60:02d} s'
    return f'{seconds // 3600} h {seconds % 3600 // 60:02d} min'


class ProgressHook(Hook):
    """Log ``[progress] LABEL: epoch e/E, T elapsed, ~R left`` after every training epoch.

    The time left extrapolates the training iterations done so far:
    ``R = T / (iterations done) * (max_iters - iterations done)``, with ``T`` the wall
    time since training started (validation included, so it counts in ``R`` too).

    Args:
        label (str): what runs, e.g. ``'CDS seed 0'``.
    """
    priority = 'VERY_LOW'

    def __init__(self, label: str):
        self.label = label
        self.start: Optional[float] = None

    def before_train(self, runner) -> None:
        """Start the clock (a resumed run extrapolates from where it resumed)."""
        self.start = time.perf_counter()
        self.start_iter = runner.iter

    def after_train_epoch(self, runner) -> None:
        """Log the progress line (``runner.epoch`` is still the finished epoch's
        0-based index here)."""
        elapsed = time.perf_counter() - self.start
        done = runner.iter - self.start_iter
        left = elapsed / max(done, 1) * (runner.max_iters - runner.iter)
        print_log(f'{PROGRESS_TAG} {self.label}: epoch {runner.epoch + 1}/'
                  f'{runner.max_epochs}, {format_seconds(elapsed)} elapsed, '
                  f'~{format_seconds(left)} left', logger='current')
