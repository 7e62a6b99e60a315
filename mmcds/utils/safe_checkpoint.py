"""Let ``torch.load(weights_only=True)`` read checkpoints written by mmengine runners.

Since torch 2.6, ``torch.load`` refuses any global that is not allow-listed, and
mmengine 0.10.7 neither passes ``weights_only=False`` nor allow-lists its own types, so
``--resume`` fails on the message hub's ``HistoryBuffer`` and the numpy scalars it holds.
The fix keeps ``weights_only=True`` and allow-lists exactly the data types such a
checkpoint contains (plain containers of numbers and arrays); anything else, e.g. a
pickle that would call ``os.system``, is still refused by torch.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# The numpy dtype classes whose instances checkpoints carry (scalars, arrays, dtypes).
_NUMPY_DTYPE_NAMES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                      'uint32', 'uint64', 'float16', 'float32', 'float64', 'str')


def numpy_globals():
    """The numpy globals of pickled arrays, scalars and dtypes (objects, or
    (object, name) for an old spelling of a moved function)."""
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    items = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    items += [type(np.dtype(name)) for name in _NUMPY_DTYPE_NAMES]
    # Checkpoints pickled under numpy 1.x name these functions numpy.core.multiarray.*
    # (numpy 2 moved them to numpy._core); accept both spellings.
    items += [(multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
              (multiarray.scalar, 'numpy.core.multiarray.scalar')]
    return items


# What HistoryBuffer.__init__ registers; the class-level registry is empty until the
# first buffer is made, which in a fresh process is after the checkpoint loads.
_HISTORY_BUFFER_STATISTICS = {'min', 'max', 'current', 'mean'}


def history_buffer_statistic(owner, name: str):
    """Stands in for ``builtins.getattr`` while unpickling, for one purpose only.

    A ``HistoryBuffer`` keeps its statistics functions (``HistoryBuffer.mean`` ...) in
    its state, and pickle writes each as ``getattr(HistoryBuffer, 'mean')``. Allowing
    the real ``getattr`` would let a pickle walk from any allowed object to
    ``__globals__`` and on to ``eval``; this resolves only registered statistics of
    ``HistoryBuffer`` and refuses everything else.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS | set(
            HistoryBuffer._statistics_methods):
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(owner, "__name__", type(owner).__name__)}, '
        f'{name!r}), which is not a HistoryBuffer statistic: refused')


SAFE_CHECKPOINT_GLOBALS = [HistoryBuffer, (history_buffer_statistic, 'builtins.getattr')
                           ] + numpy_globals()


def register_safe_checkpoint_globals() -> None:
    """Allow-list the types of mmengine checkpoints for ``weights_only`` loading."""
    torch.serialization.add_safe_globals(SAFE_CHECKPOINT_GLOBALS)
