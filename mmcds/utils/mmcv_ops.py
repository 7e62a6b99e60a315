"""mmcv's compiled ops and the device a run uses.

``scripts/install.sh`` builds mmcv 2.1.0 from source with its C++ ops, for the CPU only
or with CUDA kernels too (the "flavour"). :func:`install_flavour` is its decision:
CUDA ops where ``nvcc`` and an NVIDIA GPU are present, CPU ops elsewhere;
``MMCDS_MMCV_CUDA=1``/``0`` forces either. :func:`check_mmcv_ops_for_device` is what
``tools/train.py`` and ``tools/test.py`` run at start: a run on CUDA with CPU-only ops
would fail inside RoIAlign/NMS, so it stops a detector with one line saying how to
rebuild (a classifier calls no mmcv op and only gets a warning).

The module imports only the standard library at the top, so the installer runs it
before mmcv (or mmcds) is installed:

    python -I mmcds/utils/mmcv_ops.py flavour        # prints cpu or cuda
    python -I mmcds/utils/mmcv_ops.py has-cuda-ops   # exit status 0 if mmcv has them
"""
import logging
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Mapping, Optional, Tuple

REBUILD = 'MMCDS_MMCV_CUDA=1 scripts/install.sh'
DEFAULT_CUDA_HOME = '/usr/local/cuda'


def find_nvcc(env: Mapping[str, str] = os.environ) -> Optional[str]:
    """``nvcc`` where torch's extension builder looks: ``$CUDA_HOME`` (or
    ``$CUDA_PATH``) if set, else ``nvcc`` on ``PATH``, else ``/usr/local/cuda``."""
    home = env.get('CUDA_HOME') or env.get('CUDA_PATH')
    if home:
        candidates = [osp.join(home, 'bin', 'nvcc')]
    else:
        candidates = [shutil.which('nvcc', path=env.get('PATH', os.defpath)),
                      osp.join(DEFAULT_CUDA_HOME, 'bin', 'nvcc')]
    for nvcc in candidates:
        if nvcc and os.access(nvcc, os.X_OK):
            return nvcc
    return None


def count_gpus(env: Mapping[str, str] = os.environ,
               proc_dir: str = '/proc/driver/nvidia/gpus') -> int:
    """NVIDIA GPUs on the machine: ``nvidia-smi -L``'s ``GPU i: ...`` lines (where
    ``nvidia-smi`` exists), else the driver's entries in ``proc_dir``."""
    smi = shutil.which('nvidia-smi', path=env.get('PATH', os.defpath))
    if smi:
        try:
            listing = subprocess.run([smi, '-L'], capture_output=True, text=True,
                                     timeout=60, env=dict(env)).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ''
        return sum(line.startswith('GPU ') for line in listing.splitlines())
    return len(os.listdir(proc_dir)) if osp.isdir(proc_dir) else 0


def decide_flavour(forced: Optional[str], nvcc: Optional[str],
                   gpus: int) -> Tuple[str, str]:
    """``(flavour, why)``: ``'cuda'`` if forced with ``'1'``, or unforced with ``nvcc``
    and at least one GPU; ``'cpu'`` otherwise.

    Raises:
        ValueError: ``forced`` is set but neither ``'0'`` nor ``'1'``.
    """
    if forced not in (None, '', '0', '1'):
        raise ValueError(f'MMCDS_MMCV_CUDA: expected 0 (CPU ops) or 1 (CUDA ops), '
                         f'got {forced!r}')
    if forced == '1':
        return 'cuda', 'MMCDS_MMCV_CUDA=1'
    if forced == '0':
        return 'cpu', 'MMCDS_MMCV_CUDA=0'
    found = f'nvcc: {nvcc or "not found"}, NVIDIA GPUs: {gpus}'
    if nvcc and gpus:
        return 'cuda', f'{found}; MMCDS_MMCV_CUDA=0 builds CPU ops only'
    return 'cpu', f'{found}; MMCDS_MMCV_CUDA=1 builds CUDA ops'


def install_flavour(env: Mapping[str, str] = os.environ) -> Tuple[str, str]:
    """:func:`decide_flavour` for this machine and environment."""
    forced = env.get('MMCDS_MMCV_CUDA')
    if forced in ('0', '1'):
        return decide_flavour(forced, None, 0)
    return decide_flavour(forced, find_nvcc(env), count_gpus(env))


def mmcv_has_cuda_ops() -> bool:
    """Whether the installed mmcv's compiled ops include the CUDA kernels."""
    try:
        from mmcv.ops import get_compiling_cuda_version
        return get_compiling_cuda_version() not in ('not available', '')
    except (ImportError, OSError):  # no compiled ops at all
        return False


def check_mmcv_ops_for_device(cfg=None, device: Optional[str] = None) -> None:
    """Stop a run that will use CUDA when mmcv has no CUDA ops.

    Args:
        cfg (Config, optional): the run's config. A detector (``default_scope``
            mmdet), or no config, stops with :class:`SystemExit` and one line saying
            how to rebuild; a classifier (mmpretrain's ResNets call no mmcv op) gets a
            one-line warning and runs.
        device (str, optional): the run's device; mmengine's ``get_device()``
            (``'cuda'`` where torch sees a GPU) when not given.
    """
    if device is None:
        from mmengine.device import get_device
        device = get_device()
    if not str(device).startswith('cuda') or mmcv_has_cuda_ops():
        return
    scope = (cfg.get('default_scope', None) if cfg is not None else None) or 'mmdet'
    message = ('mmcv 2.1.0 here has CPU ops only, but this run uses CUDA, where '
               f'RoIAlign/NMS need CUDA ops: rebuild mmcv with `{REBUILD}` (needs '
               "nvcc), or run on the CPU with CUDA_VISIBLE_DEVICES=''")
    if scope == 'mmdet':
        raise SystemExit(message)
    from mmengine.logging import print_log
    print_log(f'{message}. This {scope} model calls no mmcv op, so it runs.',
              logger='current', level=logging.WARNING)


def main(argv=None) -> int:
    command = (argv if argv is not None else sys.argv[1:] or [''])[0]
    if command == 'flavour':
        try:
            flavour, why = install_flavour()
        except ValueError as error:
            print(f'error: {error}', file=sys.stderr)
            return 2
        print(f'[mmcds install] mmcv ops: {flavour} ({why})', file=sys.stderr)
        print(flavour)
        return 0
    if command == 'has-cuda-ops':
        return 0 if mmcv_has_cuda_ops() else 1
    print('usage: python -I mmcds/utils/mmcv_ops.py flavour|has-cuda-ops',
          file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
