"""Read the predictions pickle of ``tools/test.py --out`` without running code.

``tools/test.py --out preds.pkl`` dumps (mmengine's ``DumpResults``) a list of the
data samples' ``to_dict()``: dicts, lists and tuples of tensors, numpy arrays, numbers,
strings, ``None``. ``pickle.load`` (and so ``mmengine.load``) would call any function a
pickle names, e.g. ``os.system``; :class:`PredictionsUnpickler` resolves only the
globals such a file holds, and :func:`load_predictions` refuses anything else with an
error naming the file. Tensors are rebuilt by functions of ours that take only their
data (a pickled tensor's storage is a ``torch.save`` blob, read back with
``torch.load(weights_only=True)``; backward hooks and tensor metadata are dropped).
"""
import contextlib
import io
import os
import pickle
from collections import OrderedDict
from typing import Any, Dict, Iterator

import numpy as np
import torch

from .safe_checkpoint import numpy_globals


def _load_storage(data: bytes):
    """``torch.storage._load_from_bytes`` (which calls ``torch.load`` with
    ``weights_only=False``) on a storage's bytes, weights-only."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError('a tensor storage is not bytes')
    storage = torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(
            f'a tensor storage holds a {type(storage).__name__}')
    return storage


def _latin1_bytes(text, encoding='latin1'):
    """``_codecs.encode`` as pickle protocol 2 (mmengine's ``dump`` of ``.pkl``)
    writes ``bytes``: only the latin-1 text to bytes step."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError('_codecs.encode is read for latin-1 bytes only')
    return text.encode('latin1')


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False,
                    backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2`` without the backward hooks and metadata
    (which a predictions file has no use for and which could hold callables)."""
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError('a tensor is not rebuilt from a storage')
    return torch._utils._rebuild_tensor_v2(storage, int(storage_offset),
                                           tuple(size), tuple(stride),
                                           bool(requires_grad), OrderedDict())


def _allowed_globals() -> Dict[str, Any]:
    allowed = {
        'torch._utils._rebuild_tensor_v2': _rebuild_tensor,
        'torch.storage._load_from_bytes': _load_storage,
        '_codecs.encode': _latin1_bytes,
        'torch.Size': torch.Size,
        'torch.device': torch.device,
        'collections.OrderedDict': OrderedDict,
        'builtins.set': set,
        'builtins.frozenset': frozenset,
        'builtins.complex': complex,
        'builtins.slice': slice,
        'builtins.bytearray': bytearray,
    }
    allowed.update({f'torch.{name}': value for name, value in vars(torch).items()
                    if isinstance(value, torch.dtype)})
    for item in numpy_globals():
        obj, name = item if isinstance(item, tuple) else (
            item, f'{item.__module__}.{item.__qualname__}')
        allowed[name] = obj
    # numpy 2 names its multiarray module numpy._core; pickles from numpy 1 say core.
    for name, obj in list(allowed.items()):
        if name.startswith('numpy._core.'):
            allowed.setdefault('numpy.core.' + name[len('numpy._core.'):], obj)
    allowed['numpy.dtype'] = np.dtype
    allowed['numpy.ndarray'] = np.ndarray
    return allowed


class PredictionsUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only what a predictions file holds:
    tensors (rebuilt by :func:`_rebuild_tensor`), numpy arrays and scalars, torch
    dtypes, sizes and devices, ``OrderedDict``, sets, complex numbers, slices.
    Containers, numbers, strings, bytes, booleans and ``None`` need no global.
    Any other global (a function that could run code, a class whose construction
    could) raises ``pickle.UnpicklingError`` naming it."""

    _allowed = None

    def find_class(self, module: str, name: str):
        if PredictionsUnpickler._allowed is None:
            PredictionsUnpickler._allowed = _allowed_globals()
        found = self._allowed.get(f'{module}.{name}')
        if found is None:
            raise pickle.UnpicklingError(
                f'it asks for {module}.{name}, which a tools/test.py --out file never '
                'holds (it could run code); only dicts, lists, tensors, numpy arrays, '
                'numbers and strings are read')
        return found


def load_predictions(path: str) -> Any:
    """Read a ``tools/test.py --out`` pickle with :class:`PredictionsUnpickler`.

    Raises:
        FileNotFoundError: no such file.
        pickle.UnpicklingError: the file asks for something a predictions file
            does not hold, or is not a complete pickle; the message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'predictions file not found: {path}')
    with open(path, 'rb') as file:
        try:
            return PredictionsUnpickler(file).load()
        except Exception as error:  # noqa: BLE001  any failure names the file
            reason = ' '.join(str(error).split()) or type(error).__name__
            raise pickle.UnpicklingError(
                f'{path}: refused to read it as tools/test.py --out predictions: '
                f'{reason}') from error


class _SafePickleHandler:
    """Stands in for mmengine's ``PickleHandler``: loads with the restricted
    unpickler, dumps as mmengine does."""

    def __init__(self, handler) -> None:
        self.handler = handler

    def load_from_fileobj(self, file, **kwargs):
        return PredictionsUnpickler(file, **kwargs).load()

    def load_from_path(self, filepath, **kwargs):
        return load_predictions(filepath)

    def __getattr__(self, name):
        return getattr(self.handler, name)


@contextlib.contextmanager
def safe_pickle_loading() -> Iterator[None]:
    """Within the context, ``mmengine.load`` (and ``mmengine.fileio.load``) read
    ``.pkl``/``.pickle`` files with :func:`load_predictions`; for tools (e.g.
    mmpretrain's ``confusion_matrix.py``) that read ``tools/test.py --out`` files
    with ``mmengine.load``. Other formats are read as before."""
    import mmengine
    import mmengine.fileio
    import mmengine.fileio.io as fileio_io

    original_load = fileio_io.load
    handlers = fileio_io.file_handlers
    saved_handlers = {key: handlers[key] for key in ('pkl', 'pickle') if key in handlers}

    def load(file, file_format=None, *args, **kwargs):
        name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else None
        fmt = file_format or (name.rsplit('.', 1)[-1] if name else None)
        if name is not None and fmt in ('pkl', 'pickle') and '://' not in name:
            return load_predictions(name)
        return original_load(file, file_format, *args, **kwargs)

    modules = (mmengine, mmengine.fileio, fileio_io)
    saved_loads = [getattr(module, 'load') for module in modules]
    try:
        for key, handler in saved_handlers.items():
            handlers[key] = _SafePickleHandler(handler)
        for module in modules:
            module.load = load
        yield
    finally:
        handlers.update(saved_handlers)
        for module, saved in zip(modules, saved_loads):
            module.load = saved
