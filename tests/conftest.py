import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = os.environ.get('MMCDS_SHARED_DATA',
                             osp.join(REPO_ROOT, '..', 'shared', 'data'))


def shared_data(name: str) -> str:
    """Path of ../shared/data/<name>; skips the test when it is not there."""
    path = osp.abspath(osp.join(SHARED_DATA, name))
    if not osp.isdir(path):
        pytest.skip(f'real data set {name!r} not found at {path} '
                    '(set MMCDS_SHARED_DATA to the folder holding it)')
    return path


@pytest.fixture
def cifar10_root():
    return shared_data('cifar10')


@pytest.fixture
def coco128_root():
    return shared_data('coco128')


@pytest.fixture(autouse=True)
def _mmpretrain_default_scope():
    """Each test starts in mmpretrain's scope and leaves no scope behind: a Runner
    built by one test (e.g. an mmdet-scope detector) would otherwise stay the current
    DefaultScope and send later registry look-ups to mmdet."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


@pytest.fixture(autouse=True, scope='session')
def _one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core CPU
    OpenMP threads spinning against other jobs made the tests several times slower
    (a 16-channel conv: 0.5 ms on 1 thread, ~25 ms on 2 under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _chdir_repo_root(monkeypatch):
    # Configs name data relative to the repository root, as the tools run there.
    monkeypatch.chdir(REPO_ROOT)


def randomize_state(model, seed: int = 0) -> None:
    """Fill every tensor of ``model``'s state (BN statistics too) with seeded random
    values, so that no weight comparison can pass on default initial values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                tensor.fill_(seed + 5)
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)


def dist_train_on_cpu(config: str, work_dir: str, *cfg_options: str,
                      port_offset: int = 0) -> str:
    """Run ``tools/dist_train.sh CONFIG 2`` (two CPU processes on gloo) with
    ``--cfg-options``; assert it succeeded distributed and return its output."""
    env = dict(os.environ, PORT=str(29500 + (os.getpid() + port_offset) % 1000),
               PYTHON=sys.executable)
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
         '--no-persistent-workers', '--cfg-options', *cfg_options],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert 'Distributed training: True' in output and "'backend': 'gloo'" in output
    return output
