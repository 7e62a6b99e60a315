"""GPU machines get GPU ops (issue #16, 7; #22, 1): the installer's CPU/CUDA decision
with fake nvcc and nvidia-smi, the CUDA architectures it compiles for, the key of the
cached wheel, and the start-up check of tools/train.py and tools/test.py. This machine
has no GPU, so the CUDA cases are simulated."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from conftest import REPO_ROOT
from mmcds.utils import mmcv_ops
from mmcds.utils.mmcv_ops import check_mmcv_ops_for_device, decide_flavour

HELPER = osp.join(REPO_ROOT, 'mmcds', 'utils', 'mmcv_ops.py')
GPU_LISTING = 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0123)'


def fake_tools(tmp_path, nvcc=True, gpus=(GPU_LISTING, )):
    """A bin/ with an executable `nvcc` (if asked) and an `nvidia-smi -L` that lists
    ``gpus`` (or says "No devices were found" and fails, as the real one does)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(parents=True)
    if nvcc:
        (bin_dir / 'nvcc').write_text('#!/bin/sh\necho "Cuda compilation tools"\n')
    listing = '\\n'.join(gpus)
    smi = f'printf "{listing}\\n"' if gpus else 'echo "No devices were found"; exit 6'
    (bin_dir / 'nvidia-smi').write_text(f'#!/bin/sh\n{smi}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return str(bin_dir)


def installer_flavour(path: str, **env):
    """What scripts/install.sh runs: the helper with the system's python, isolated."""
    environment = {'PATH': f'{path}{os.pathsep}/usr/bin:/bin', **env}
    return subprocess.run([sys.executable, '-I', HELPER, 'flavour'], env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('forced, nvcc, gpus, flavour', [
    (None, '/usr/local/cuda/bin/nvcc', 1, 'cuda'),
    (None, '/usr/local/cuda/bin/nvcc', 0, 'cpu'),   # nvcc without a GPU (this machine)
    (None, None, 2, 'cpu'),                          # a GPU but nothing to compile with
    ('', None, 0, 'cpu'),
    ('0', '/usr/local/cuda/bin/nvcc', 8, 'cpu'),
    ('1', None, 0, 'cuda'),
])
def test_decision(forced, nvcc, gpus, flavour):
    assert decide_flavour(forced, nvcc, gpus)[0] == flavour


def test_decision_refuses_other_values():
    with pytest.raises(ValueError, match='MMCDS_MMCV_CUDA: expected 0'):
        decide_flavour('yes', None, 0)


def test_installer_helper_with_fake_cuda_machines(tmp_path):
    no_cuda_home = str(tmp_path / 'no-cuda')  # CUDA_HOME set: no fallback elsewhere
    gpu_machine = fake_tools(tmp_path / 'gpu', nvcc=True)
    out = installer_flavour(gpu_machine)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'cuda'
    assert f'nvcc: {gpu_machine}/nvcc, NVIDIA GPUs: 1' in out.stderr
    assert installer_flavour(gpu_machine, MMCDS_MMCV_CUDA='0').stdout.strip() == 'cpu'
    # nvcc installed but the driver sees no GPU
    no_gpu = fake_tools(tmp_path / 'nogpu', nvcc=True, gpus=())
    assert installer_flavour(no_gpu).stdout.strip() == 'cpu'
    # a GPU but no CUDA toolkit
    no_nvcc = fake_tools(tmp_path / 'nonvcc', nvcc=False)
    assert installer_flavour(no_nvcc, CUDA_HOME=no_cuda_home).stdout.strip() == 'cpu'
    assert installer_flavour(no_nvcc, CUDA_HOME=no_cuda_home,
                             MMCDS_MMCV_CUDA='1').stdout.strip() == 'cuda'
    bad = installer_flavour(gpu_machine, MMCDS_MMCV_CUDA='true')
    assert bad.returncode == 2 and 'MMCDS_MMCV_CUDA: expected 0' in bad.stderr


def test_installer_uses_the_helper():
    script = open(osp.join(REPO_ROOT, 'scripts', 'install.sh')).read()
    assert 'OPS="$ROOT/mmcds/utils/mmcv_ops.py"' in script
    assert 'flavour=$("$PYTHON" -I "$OPS" flavour)' in script
    assert 'echo "mmcv ops: $flavour ${TORCH_CUDA_ARCH_LIST:-}' in script  # reinstalls
    assert 'MMCDS_MMCV_CUDA:-0' not in script  # the old CPU-only default is gone
    assert subprocess.run(['bash', '-n', osp.join(REPO_ROOT, 'scripts', 'install.sh')]
                          ).returncode == 0


def test_has_cuda_ops_reads_mmcvs_build():
    """What the check and the installer read is mmcv's own build information (here:
    the CPU-ops wheel, 'not available')."""
    from mmcv.ops import get_compiling_cuda_version
    expected = get_compiling_cuda_version() != 'not available'
    assert mmcv_ops.mmcv_has_cuda_ops() is expected
    helper = subprocess.run([sys.executable, '-I', HELPER, 'has-cuda-ops'], timeout=120)
    assert helper.returncode == (0 if expected else 1)


@pytest.fixture
def cpu_only_mmcv(monkeypatch):
    monkeypatch.setattr(mmcv_ops, 'mmcv_has_cuda_ops', lambda: False)


def test_check_stops_a_detector_on_cuda(cpu_only_mmcv):
    cfg = Config.fromfile('configs/det/faster_rcnn_r18-w16_fpn_coco128.py')
    with pytest.raises(SystemExit) as stop:
        check_mmcv_ops_for_device(cfg, device='cuda')
    message = str(stop.value)
    assert '\n' not in message
    assert 'MMCDS_MMCV_CUDA=1 scripts/install.sh' in message
    check_mmcv_ops_for_device(cfg, device='cpu')  # the CPU needs no CUDA ops
    with pytest.raises(SystemExit):
        check_mmcv_ops_for_device(None, device='cuda:0')


def test_check_warns_for_a_classifier_on_cuda(cpu_only_mmcv, monkeypatch):
    logged = []
    monkeypatch.setattr('mmengine.logging.print_log',
                        lambda msg, logger, level: logged.append(msg))
    cfg = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py')
    check_mmcv_ops_for_device(cfg, device='cuda')
    assert len(logged) == 1 and 'calls no mmcv op, so it runs' in logged[0]


def test_check_passes_with_cuda_ops(monkeypatch):
    monkeypatch.setattr(mmcv_ops, 'mmcv_has_cuda_ops', lambda: True)
    cfg = Config.fromfile('configs/det/faster_rcnn_r18-w16_fpn_coco128.py')
    check_mmcv_ops_for_device(cfg, device='cuda')


class StandInTorch:
    """What :func:`device_capabilities` reads of torch, for GPUs of these capabilities."""

    def __init__(self, capabilities):
        self.cuda = self
        self.capabilities = list(capabilities)

    def is_available(self):
        return bool(self.capabilities)

    def device_count(self):
        return len(self.capabilities)

    def get_device_capability(self, index):
        return self.capabilities[index]


def test_arch_list_from_the_devices_torch_sees():
    h200_and_a100 = StandInTorch([(9, 0), (8, 0), (9, 0)])
    assert mmcv_ops.detect_cuda_arch_list(h200_and_a100, env={}) == '8.0;9.0'
    # a given TORCH_CUDA_ARCH_LIST wins
    assert mmcv_ops.detect_cuda_arch_list(
        h200_and_a100, env={'TORCH_CUDA_ARCH_LIST': '9.0+PTX'}) == '9.0+PTX'


def test_arch_list_from_nvidia_smi_where_torch_sees_no_gpu(tmp_path):
    """torch without a usable GPU (e.g. installed before the driver): nvidia-smi's
    compute_cap query; with neither, the error says to set the variable."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    smi = bin_dir / 'nvidia-smi'
    smi.write_text('#!/bin/sh\n[ "$1" = "--query-gpu=compute_cap" ] || exit 3\n'
                   'printf "8.6\\n9.0\\n"\n')
    smi.chmod(0o755)
    no_gpu = StandInTorch([])
    assert mmcv_ops.detect_cuda_arch_list(no_gpu, env={'PATH': str(bin_dir)}) == '8.6;9.0'
    with pytest.raises(RuntimeError, match="TORCH_CUDA_ARCH_LIST: no GPU visible"):
        mmcv_ops.detect_cuda_arch_list(no_gpu, env={'PATH': str(tmp_path / 'none')})
    # the installer's command line, with this environment's torch (no GPU here)
    out = subprocess.run([sys.executable, '-I', HELPER, 'cuda-arch-list'],
                         capture_output=True, text=True, timeout=300,
                         env={'PATH': f'{bin_dir}{os.pathsep}/usr/bin:/bin'})
    if not __import__('torch').cuda.is_available():
        assert out.returncode == 0 and out.stdout.strip() == '8.6;9.0', out.stderr


def test_wheel_key_names_what_the_wheel_was_built_against():
    key = mmcv_ops.wheel_key
    # the CPU key of the wheels cached so far stays valid
    assert key('2.1.0', '2.14.1+cu130', (3, 11), 'cpu') == 'mmcv-2.1.0-torch2.14.1-cp311-cpu'
    assert key('2.1.0', '2.11.0+cu130', (3, 12), 'cuda', '13.0', '9.0') == \
        'mmcv-2.1.0-torch2.11.0-cp312-cuda13.0-sm9.0'
    assert key('2.1.0', '2.11.0', (3, 12), 'cuda', '12.8', '8.0;9.0+PTX') == \
        'mmcv-2.1.0-torch2.11.0-cp312-cuda12.8-sm8.0_9.0+PTX'
    # every input changes the key
    keys = {key('2.1.0', '2.11.0', (3, 12), 'cuda', '12.8', '9.0'),
            key('2.1.0', '2.12.0', (3, 12), 'cuda', '12.8', '9.0'),
            key('2.1.0', '2.11.0', (3, 13), 'cuda', '12.8', '9.0'),
            key('2.1.0', '2.11.0', (3, 12), 'cuda', '13.0', '9.0'),
            key('2.1.0', '2.11.0', (3, 12), 'cuda', '12.8', '8.0'),
            key('2.1.0', '2.11.0', (3, 12), 'cpu')}
    assert len(keys) == 6
    with pytest.raises(ValueError, match='CUDA ops need the CUDA version'):
        key('2.1.0', '2.11.0', (3, 12), 'cuda', '12.8', None)


def test_installer_builds_for_the_arch_list_and_caches_by_key():
    """scripts/install.sh: the arch list goes to the CUDA build, the wheel folder is
    the key, the torch version is in the stamp, a CPU-only torch is refused for CUDA ops."""
    script = open(osp.join(REPO_ROOT, 'scripts', 'install.sh')).read()
    assert 'arch_list=$("$PY" -I "$OPS" cuda-arch-list)' in script
    assert 'cuda_env=(FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$arch_list")' in script
    assert 'WHEEL_DIR="$CACHE/wheels/$("$PY" -I "$OPS" wheel-key "$flavour"' in script
    assert 'torch: $(venv_version torch)' in script
    assert 'is a CPU-only build, so mmcv\'s CUDA ops' in script


def test_installer_refuses_an_unsupported_python_before_anything(tmp_path):
    """scripts/install.sh with a Python 3.9 interpreter: one message naming the
    version and the range, and no virtual environment created."""
    old = osp.expanduser('~/.pyenv/versions/3.9.18/bin/python')
    if not os.access(old, os.X_OK):
        pytest.skip('no Python 3.9 at ' + old)
    venv = tmp_path / 'venv'
    out = subprocess.run(['bash', osp.join(REPO_ROOT, 'scripts', 'install.sh')],
                         capture_output=True, text=True, timeout=120,
                         env={'PATH': os.environ['PATH'], 'HOME': str(tmp_path),
                              'PYTHON': old, 'MMCDS_VENV': str(venv)})
    assert out.returncode != 0
    assert 'supports Python 3.10-3.13; this is Python 3.9.18' in out.stderr
    assert 'FAILED during step: check the Python version' in out.stderr
    assert not venv.exists()
