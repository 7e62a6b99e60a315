"""mmcv's compiled ops and the device a run uses.

``scripts/install.sh`` builds mmcv 2.1.0 from source with its C++ ops, for the CPU only
or with CUDA kernels too (the "flavour"). :func:`install_flavour` is its decision:
CUDA ops where ``nvcc`` and an NVIDIA GPU are present, CPU ops elsewhere;
``MMCDS_MMCV_CUDA=1``/``0`` forces either. :func:`check_mmcv_ops_for_device` is what
``tools/train.py`` and ``tools/test.py`` run at start: a run on CUDA with CPU-only ops
would fail inside RoIAlign/NMS, so it stops a detector with one line saying how to
rebuild (a classifier calls no mmcv op and only gets a warning).

For CUDA ops the installer compiles for the GPUs of the machine:
:func:`detect_cuda_arch_list` reads their compute capabilities (torch, or
``nvidia-smi`` where torch cannot see them) when ``TORCH_CUDA_ARCH_LIST`` is unset,
and the cached wheel is named by what it was built against (:func:`wheel_key`:
torch, Python, flavour, and for CUDA ops torch's CUDA version and the architectures).

The module imports only the standard library at the top, so the installer runs it
before mmcv (or mmcds) is installed:

    python -I mmcds/utils/mmcv_ops.py flavour        # prints cpu or cuda
    python -I mmcds/utils/mmcv_ops.py has-cuda-ops   # exit status 0 if mmcv has them
    python mmcds/utils/mmcv_ops.py cuda-arch-list    # e.g. 9.0 (needs torch or nvidia-smi)
    python mmcds/utils/mmcv_ops.py wheel-key cpu|cuda [ARCH_LIST]   # needs torch
"""
import logging
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import List, Mapping, Optional, Sequence, Tuple

MMCV_VERSION = '2.1.0'
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


def cuda_arch_list(capabilities: Sequence[Tuple[int, int]]) -> str:
    """``TORCH_CUDA_ARCH_LIST`` for GPUs of these compute capabilities:
    ``[(9, 0), (8, 0), (9, 0)]`` -> ``'8.0;9.0'``."""
    return ';'.join(f'{major}.{minor}' for major, minor in sorted(set(capabilities)))


def device_capabilities(torch_module=None,
                        env: Mapping[str, str] = os.environ) -> List[Tuple[int, int]]:
    """The compute capability of every visible GPU: torch's
    ``get_device_capability`` where torch sees them, else ``nvidia-smi
    --query-gpu=compute_cap`` (driver 510 and newer); [] when neither answers."""
    if torch_module is None:
        try:
            import torch as torch_module
        except ImportError:
            torch_module = None
    if torch_module is not None and torch_module.cuda.is_available():
        return [tuple(torch_module.cuda.get_device_capability(index))
                for index in range(torch_module.cuda.device_count())]
    smi = shutil.which('nvidia-smi', path=env.get('PATH', os.defpath))
    if not smi:
        return []
    try:
        listing = subprocess.run(
            [smi, '--query-gpu=compute_cap', '--format=csv,noheader'],
            capture_output=True, text=True, timeout=60, env=dict(env)).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    capabilities = []
    for line in listing.split():
        major, _, minor = line.strip().partition('.')
        if major.isdigit() and minor.isdigit():
            capabilities.append((int(major), int(minor)))
    return capabilities


def detect_cuda_arch_list(torch_module=None,
                          env: Mapping[str, str] = os.environ) -> str:
    """``TORCH_CUDA_ARCH_LIST`` if set, else the architectures of the visible GPUs.

    Raises:
        RuntimeError: neither is known (no GPU visible to torch or nvidia-smi).
    """
    if env.get('TORCH_CUDA_ARCH_LIST'):
        return env['TORCH_CUDA_ARCH_LIST']
    capabilities = device_capabilities(torch_module, env)
    if not capabilities:
        raise RuntimeError(
            'TORCH_CUDA_ARCH_LIST: no GPU visible to torch or nvidia-smi to build '
            "mmcv's CUDA ops for; set it, e.g. TORCH_CUDA_ARCH_LIST='8.0;9.0'")
    return cuda_arch_list(capabilities)


def wheel_key(mmcv_version: str, torch_version: str, python_version: Sequence[int],
              flavour: str, cuda_version: Optional[str] = None,
              arch_list: Optional[str] = None) -> str:
    """The name of the cache folder of an mmcv wheel: what it was built against.

    ``mmcv-2.1.0-torch2.14.1-cp311-cpu`` for CPU ops; for CUDA ops also torch's CUDA
    version and the architectures, e.g. ``mmcv-2.1.0-torch2.11.0-cp312-cuda13.0-sm9.0``
    (``'8.0;9.0+PTX'`` -> ``sm8.0_9.0+PTX``). The torch version is the release without
    its local tag (CPU ops built against ``+cu130`` headers load under ``+cpu``).

    Raises:
        ValueError: CUDA ops without the CUDA version or the architectures.
    """
    torch_release = torch_version.split('+')[0]
    key = (f'mmcv-{mmcv_version}-torch{torch_release}-'
           f'cp{python_version[0]}{python_version[1]}')
    if flavour != 'cuda':
        return f'{key}-{flavour}'
    if not cuda_version or not arch_list:
        raise ValueError('wheel_key: CUDA ops need the CUDA version and the '
                         f'architectures, got {cuda_version!r} and {arch_list!r}')
    archs = '_'.join(a for a in re.split(r'[;\s,]+', arch_list.strip()) if a)
    return f'{key}-cuda{cuda_version}-sm{archs}'


def main(argv=None) -> int:
    args = list(argv if argv is not None else sys.argv[1:]) or ['']
    command = args[0]
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
    if command == 'cuda-arch-list':
        try:
            print(detect_cuda_arch_list())
        except RuntimeError as error:
            print(f'error: {error}', file=sys.stderr)
            return 1
        return 0
    if command == 'wheel-key' and len(args) in (2, 3):
        import torch
        print(wheel_key(MMCV_VERSION, torch.__version__, sys.version_info, args[1],
                        torch.version.cuda, args[2] if len(args) == 3 else None))
        return 0
    print('usage: python -I mmcds/utils/mmcv_ops.py flavour | has-cuda-ops | '
          'cuda-arch-list | wheel-key cpu|cuda [ARCH_LIST]', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
