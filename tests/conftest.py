import contextlib
import functools
import gc
import glob
import importlib.util
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from config_fingerprint import CONFIG_ENVIRONMENT_VARIABLES

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


# The files that take longest, longest first (seconds on the idle 2-core machine,
# 2026-11-23, `--durations=0` summed per file: 42, 36, 27, 26, 22, 20, 11, 11, 10,
# 9, 7, 7; most start tool subprocesses). They are collected first so that `make test`
# (pytest-xdist --dist loadfile --no-loadscope-reorder: whole files, in collection
# order, to whichever process is free) starts them at once; left to the end, one of
# them would run alone while the other process has nothing left.
# test_every_config_starts.py (added 2026-12-04): ~40 s of CPU, measured under load.
SLOW_FILES = ('test_own_data_project.py', 'test_demo.py', 'test_compare_methods.py',
              'test_gpu_check.py', 'test_every_config_starts.py', 'test_tools_cli.py',
              'test_semi_supervised.py', 'test_install.py', 'test_configs.py',
              'test_reliability_resume.py', 'test_training.py',
              'test_package_configs.py', 'test_cifar100_configs.py',
              'test_reliability_data.py', 'test_fine_grained_configs.py',
              'test_det_transfer.py', 'test_distill.py')


# What a built or installed copy of mmcds needs of the repository.
PACKAGE_SOURCES = ('setup.py', 'README.md', 'requirements', 'mmcds', 'configs',
                   'model-index.yml')


def source_copy(root) -> str:
    """``root/src``: a copy of what pip builds mmcds from (links kept, no caches or
    egg-info of this checkout), for install tests that must not touch the checkout."""
    import shutil
    source = root / 'src'
    os.makedirs(source)
    for item in PACKAGE_SOURCES:
        if osp.isdir(osp.join(REPO_ROOT, item)):
            shutil.copytree(osp.join(REPO_ROOT, item), source / item, symlinks=True,
                            ignore=shutil.ignore_patterns('__pycache__', '*.egg-info'))
        else:
            shutil.copy(osp.join(REPO_ROOT, item), source / item)
    return source


def venv_seeing_this_environment(root):
    """A fresh venv (no pip of its own) at ``root/venv`` whose site-packages lists
    this environment's after its own (a .pth of path lines): torch, mmengine and pip
    are visible there, not installed. Returns (its python, its site-packages)."""
    import sysconfig
    base = getattr(sys, '_base_executable', sys.executable)
    venv = root / 'venv'
    subprocess.run([base, '-m', 'venv', '--without-pip', str(venv)], check=True,
                   timeout=120)
    python = str(venv / 'bin' / 'python')
    venv_site = subprocess.run(
        [python, '-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ('purelib', 'platlib'))
    with open(osp.join(venv_site, 'this-environment.pth'), 'w') as f:
        f.write(''.join(f'{path}\n' for path in ours))
    return python, venv_site


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable


def _remember_external_config_lookups():
    """Config.fromfile looks up every ``mmpretrain::``/``mmdet::`` base in the package's
    model index: mmengine parses all of its metafiles (85 YAML files for mmpretrain,
    about 0.3 s) and reloads pkg_resources, once per base, every time, only to learn
    that ``_base_/...`` is not a model name. The answer depends on the installed files
    alone, so within a test process each (package, name) is looked up once; the
    configs, and what Config.fromfile returns, are unchanged."""
    import copy
    import functools

    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils

    lookup = config_utils._get_cfg_metainfo
    outcomes = {}

    @functools.wraps(lookup)
    def remembered_lookup(package_path, cfg_path):
        key = (package_path, cfg_path)
        if key not in outcomes:
            try:
                outcomes[key] = (lookup(package_path, cfg_path), None)
            except ValueError as error:  # not a model name: mmengine then reads _base_
                outcomes[key] = (None, str(error))
        found, error = outcomes[key]
        if error is not None:
            raise ValueError(error)
        return copy.deepcopy(found)

    config_utils._get_cfg_metainfo = remembered_lookup
    config_module.is_installed = functools.lru_cache(config_module.is_installed)


def _remember_config_formatting():
    """A Runner that trains and tests formats its config with yapf six times
    (``pretty_text`` for the log, the dump in the work dir, the visualizer, the
    runtime info of training and of testing, the checkpoint's meta), about 0.1 s
    each on this CPU, and the suite builds many Runners of the same few configs. yapf's FormatCode is a function of its text
    and style alone, so each distinct text is formatted once per test process."""
    import mmengine.config.config as config_module

    format_code = config_module.FormatCode
    formatted = {}

    def remembered_format_code(text, style_config=None, **kwargs):
        key = (text, repr(style_config), repr(sorted(kwargs.items())))
        if key not in formatted:
            formatted[key] = format_code(text, style_config=style_config, **kwargs)
        return formatted[key]

    config_module.FormatCode = remembered_format_code


def _mmengine_originals() -> dict:
    """``{(module, name): function}`` of what the two functions above replace."""
    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils
    return {(module, name): getattr(module, name) for module, name in (
        (config_utils, '_get_cfg_metainfo'), (config_module, 'is_installed'),
        (config_module, 'FormatCode'))}


MMENGINE_ORIGINALS = _mmengine_originals()
_remember_external_config_lookups()
_remember_config_formatting()


@contextlib.contextmanager
def mmengine_without_memos():
    """mmengine's own functions for the duration, in place of the memos above (for
    the test that checks the memos change nothing)."""
    memos = {key: getattr(*key) for key in MMENGINE_ORIGINALS}
    try:
        for (module, name), original in MMENGINE_ORIGINALS.items():
            setattr(module, name, original)
        yield
    finally:
        for (module, name), memo in memos.items():
            setattr(module, name, memo)


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
def _imports_left_out_of_garbage_collection():
    """The objects alive once the tests are collected (the imported packages: ~500,000
    objects) move to the collector's permanent generation, so that a collection only
    traverses what the tests made since. mmengine's BaseDataset calls gc.collect()
    each time it is built, which took ~1 s over them on the shared CPU (under 1 ms
    after the freeze); test_reliability_{classes,nonfinite}.py,
    test_cifar100_configs.py and test_fine_grained_configs.py took 21 s of CPU
    without the freeze, 12 s with it (2026-12-04, under load)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True, scope='session')
def _one_torch_thread():
    """Tiny models gain nothing from a second thread, and on a shared 2-core CPU
    OpenMP threads spinning against other jobs made the tests several times slower
    (a 16-channel conv: 0.5 ms on 1 thread, ~25 ms on 2 under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# What a distributed launch sets and mmcds or the tools read (a rank's share of
# tools/misc/check_data.py's files, tools/*.py's --local-rank).
LAUNCH_ENVIRONMENT_VARIABLES = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK')


def _one_logger_per_runner():
    """A user's process builds one Runner; a test process builds hundreds. mmengine
    names a runner's logger and message hub ``<config>_<timestamp>`` (to the second)
    and hands a second runner of the same config within that second the FIRST one's
    instances: its log lines land in the first runner's file and its message hub
    holds the first runner's scalars. Where a config names no ``experiment_name``, the
    test process appends a counter, so every runner gets instances of its own."""
    import itertools

    from mmengine.runner import Runner

    counter = itertools.count()
    original = Runner.__init__

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        if kwargs.get('experiment_name') is None:
            cfg = kwargs.get('cfg') or {}
            name = osp.splitext(osp.basename(getattr(cfg, 'filename', None) or
                                             'runner'))[0]
            kwargs['experiment_name'] = f'{name}_test{next(counter)}_{os.getpid()}'
        original(self, *args, **kwargs)

    Runner.__init__ = init


_one_logger_per_runner()


@pytest.fixture(autouse=True)
def _no_environment_in_the_verdicts(monkeypatch):
    """The environment variables the configs read (their data roots: MMCDS_CIFAR10,
    MMCDS_COCO128, ...) and those of a distributed launch are unset in every test, and
    so in the tools it starts: a test that needs data takes its root from a fixture,
    and a config means what its file says whatever the user's environment."""
    for name in (*CONFIG_ENVIRONMENT_VARIABLES, *LAUNCH_ENVIRONMENT_VARIABLES):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _chdir_repo_root(monkeypatch):
    # Configs name data relative to the repository root, as the tools run there.
    monkeypatch.chdir(REPO_ROOT)


def seeded_model(cfg, seed):
    """The config's whole model, as the Runner builds it (the config's
    data_preprocessor merged in), in eval mode: PyTorch's initialisation under
    ``seed`` and seeded random BN statistics, so that only a loaded checkpoint
    reproduces it (:func:`randomize_state` scales every weight to 0.1 * N(0, 1), which
    leaves the last stage of a random ResNet all but constant)."""
    from mmpretrain.registry import MODELS
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor', None))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('running_mean'):
                tensor.copy_(torch.randn(tensor.shape) * .1)
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape) + .5)
    return model.eval()


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


class _StopAfterResume(Exception):
    """Raised by the capture hook of :func:`state_after_resume`."""


def state_after_resume(cfg) -> dict:
    """Run ``Runner.train()`` of ``cfg`` (with ``resume=True`` and ``load_from``) up to
    the first training hook, which mmengine calls after it resumed, and return what
    the runner holds there: ``model`` and ``optimizer`` state dicts, ``schedulers``
    (their state dicts), ``epoch`` and ``iter``."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    captured = {}

    class Capture(Hook):
        priority = 'VERY_HIGH'

        def before_train(self, runner):
            captured.update(
                model=runner.model.state_dict(),
                optimizer=runner.optim_wrapper.state_dict(),
                schedulers=[s.state_dict() for s in runner.param_schedulers],
                epoch=runner.epoch, iter=runner.iter)
            raise _StopAfterResume

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Capture())
    with pytest.raises(_StopAfterResume):
        runner.train()
    return captured


def assert_same_state(ours, saved, where: str = '') -> None:
    """Recursively equal: tensors bit for bit, containers key by key, the rest by
    ``==``."""
    if isinstance(saved, torch.Tensor):
        assert isinstance(ours, torch.Tensor) and torch.equal(ours.cpu(), saved.cpu()), \
            f'{where}: tensors differ'
    elif isinstance(saved, dict):
        assert set(ours) == set(saved), f'{where}: keys {set(ours) ^ set(saved)}'
        for key in saved:
            assert_same_state(ours[key], saved[key], f'{where}.{key}')
    elif isinstance(saved, (list, tuple)):
        assert len(ours) == len(saved), f'{where}: lengths differ'
        for index, (a, b) in enumerate(zip(ours, saved)):
            assert_same_state(a, b, f'{where}[{index}]')
    else:
        assert ours == saved, f'{where}: {ours!r} != {saved!r}'


def load_runner_checkpoint(path: str) -> dict:
    """A runner checkpoint as ``torch.load(weights_only=True)`` reads it."""
    import mmcds  # noqa: F401  allow-lists the checkpoint's types
    return torch.load(path, map_location='cpu', weights_only=True)


def supcon_by_loops(features, labels, temperature):
    """Khosla et al. (2020), L^sup_out, written anchor by anchor in plain Python."""
    num_images, num_views, _ = features.shape
    views = [(n, v) for v in range(num_views) for n in range(num_images)]
    per_anchor = []
    for i, (n_i, v_i) in enumerate(views):
        z_i = features[n_i, v_i]
        denominator = sum(
            math.exp(float(z_i @ features[n_a, v_a]) / temperature)
            for a, (n_a, v_a) in enumerate(views) if a != i)
        positives = [(n_p, v_p) for p, (n_p, v_p) in enumerate(views)
                     if p != i and (n_p == n_i or (labels is not None and labels[n_p] == labels[n_i]))]
        if not positives:
            continue
        per_anchor.append(-sum(
            math.log(math.exp(float(z_i @ features[n_p, v_p]) / temperature) / denominator)
            for n_p, v_p in positives) / len(positives))
    return sum(per_anchor) / len(per_anchor)


def ece_by_hand(confidences, correct, num_bins: int = 15) -> float:
    """Expected calibration error in %, bin by bin over equal-width bins (lo, hi],
    written independently of mmcds.evaluation (Guo et al., 2017)."""
    import numpy as np
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    total = 0.
    for k in range(num_bins):
        in_bin = (confidences > k / num_bins) & (confidences <= (k + 1) / num_bins)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() -
                                         confidences[in_bin].mean())
    return 100 * total


def free_port() -> int:
    """A TCP port that nothing listens on now (for a process group's rendezvous)."""
    import socket
    with socket.socket() as free:
        free.bind(('127.0.0.1', 0))
        return free.getsockname()[1]


def assert_distributed_on_gloo(output: str) -> None:
    """mmengine's environment lines of a run distributed on the gloo backend."""
    assert 'Distributed training: True' in output and "'backend': 'gloo'" in output


def dist_train_on_cpu(config: str, work_dir: str, *train_args: str) -> str:
    """Run ``tools/dist_train.sh CONFIG 2 --work-dir WORK_DIR --no-persistent-workers
    *TRAIN_ARGS`` (two CPU processes on gloo, CUDA hidden: the fallback of machines
    without CUDA is tested on every machine); assert it succeeded distributed and
    return its output."""
    env = dict(os.environ, PORT=str(free_port()), PYTHON=sys.executable,
               CUDA_VISIBLE_DEVICES='')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
         '--no-persistent-workers', *train_args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert_distributed_on_gloo(output)
    return output


def _train_tool_on_rank(rank, world_size, port, argv, output_dir):
    """One rank of :func:`dist_train_in_forked_processes`: torchrun's environment, then
    tools/train.py's main() with ``--launcher pytorch``; its output goes to a file."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_WORLD_SIZE=str(world_size))
    sys.argv = ['tools/train.py', *argv, '--launcher', 'pytorch']
    with open(osp.join(output_dir, f'rank{rank}_output.txt'), 'w') as out, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        load_tool('train').main()


def dist_train_in_forked_processes(config: str, work_dir: str, *cfg_options: str,
                                   world_size: int = 2, timeout: float = 600) -> str:
    """What ``tools/dist_train.sh CONFIG 2`` runs (torchrun's environment variables,
    then tools/train.py ``--launcher pytorch`` in every rank), in ranks forked from this
    process, so they skip the imports a new process pays (the CLI itself is tested
    once, by :func:`dist_train_on_cpu`). Returns the text of rank 0's log; asserts
    the run was distributed on gloo. A rank that raises fails the test with its
    traceback; ranks still running after ``timeout`` seconds are stopped and the
    test fails with the tail of each rank's output."""
    import time

    import torch.multiprocessing as mp
    argv = [config, '--work-dir', work_dir, '--no-persistent-workers',
            '--cfg-options', *cfg_options]
    os.makedirs(work_dir, exist_ok=True)
    context = mp.start_processes(_train_tool_on_rank, nprocs=world_size, join=False,
                                 start_method='fork',
                                 args=(world_size, free_port(), argv, work_dir))
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
                process.join()
            tails = {rank: open(osp.join(work_dir, f'rank{rank}_output.txt')).read()
                     [-1500:] for rank in range(world_size)}
            pytest.fail(f'ranks still running after {timeout} s: {tails}')
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert len(logs) == 1, logs
    log = open(logs[0]).read()
    assert_distributed_on_gloo(log)
    assert f'GPU number: {world_size}' in log  # mmengine's name for the world size
    return log


def load_tool(name: str):
    """A tools/ script (``name`` relative to tools/, without .py) as a module, to run
    its functions in this process."""
    spec = importlib.util.spec_from_file_location(
        f'mmcds_tool_{name.replace("/", "_")}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
