"""Exact resume (issue #15, item 4): tools/train.py killed with a real SIGKILL in the
middle of an epoch and resumed with --resume ends with the same weights, bit for bit,
as a run that was never interrupted (run through Runner.from_cfg); with 0 and 2
dataloader workers. The killed run is always a real tools/train.py process; the resume
is tools/train.py's main() run in this process (a fresh interpreter costs ~7 s of
imports). The killed process shares nothing with this one but its files; this
process has trained the reference run before, so its random state is not a fresh
process's."""
import os
import os.path as osp
import glob
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401  allow-lists the checkpoint types for torch.load

from conftest import REPO_ROOT, load_tool, shared_data

# 30 training images, 3 of each class (the folders are sorted by class, 1000 each);
# batch 8: 4 iterations an epoch, 12 in all; checkpoints at iterations 5 and 10
# (inside epochs 2 and 3) and 12.
TRAIN_INDICES = [c * 1000 + i for c in range(10) for i in range(3)]
VAL_INDICES = [c * 100 for c in range(10)]
MAX_EPOCHS, ITERS_PER_EPOCH, CKPT_INTERVAL = 3, 4, 5


def write_config(path, data_root, num_workers):
    # The hooks and the sampler of exact resume are the shipped config's (its bases',
    # docs/troubleshooting.md).
    path.write_text(f"""
_base_ = '{REPO_ROOT}/configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'
train_dataloader = dict(
    batch_size=8, num_workers={num_workers}, persistent_workers={num_workers > 0},
    dataset=dict(data_root='{data_root}', indices={TRAIN_INDICES}))
val_dataloader = dict(batch_size=10, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root='{data_root}', indices={VAL_INDICES}))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={MAX_EPOCHS}, val_interval=1)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval={CKPT_INTERVAL}, max_keep_ckpts=5))
randomness = dict(seed=0, deterministic=True)
""")
    return str(path)


def train_command(config, work_dir, *extra):
    return [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir),
            *extra]


def sigkill_after_first_checkpoint(command, work_dir) -> int:
    """Start ``command`` (tools/train.py) and SIGKILL it, dataloader workers too, as
    soon as ``work_dir/last_checkpoint`` exists; returns its PID."""
    last_checkpoint = osp.join(work_dir, 'last_checkpoint')
    # Its own process group, so the SIGKILL also reaches the dataloader workers.
    process = subprocess.Popen(command, cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, OMP_NUM_THREADS='1'),
                               start_new_session=True)
    try:
        deadline = time.time() + 300
        while not osp.exists(last_checkpoint) and process.poll() is None \
                and time.time() < deadline:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        returncode = process.wait(timeout=60)
    assert returncode == -signal.SIGKILL, 'the run ended before it could be killed'
    return process.pid


def final_state(work_dir):
    last = osp.join(work_dir, f'iter_{MAX_EPOCHS * ITERS_PER_EPOCH}.pth')
    return torch.load(last, map_location='cpu')['state_dict']


def resume_in_this_process(config, work_dir, monkeypatch, *extra):
    """``tools/train.py CONFIG --work-dir WORK_DIR --resume *EXTRA`` as its main()
    here; the text of the logs in WORK_DIR (the killed run's and the resumed run's)."""
    monkeypatch.setattr(sys, 'argv',
                        train_command(config, work_dir, '--resume', *extra)[1:])
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        runner = load_tool('train').main()
    finally:
        torch.use_deterministic_algorithms(deterministic)
    # Stop the persistent dataloader workers now: left to the garbage collector,
    # torch's iterator waits out its 5 s join timeout per worker in a later test.
    iterator = getattr(runner.train_dataloader, '_iterator', None)
    if iterator is not None:
        iterator._shutdown_workers()
    return ''.join(open(log).read() for log in
                   sorted(glob.glob(osp.join(work_dir, '*', '*.log'))))


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The final weights of an uninterrupted run with 0 workers, built the other
    user path, ``Runner.from_cfg(Config.fromfile(...))``, in this process."""
    data_root = shared_data('cifar10')
    tmp = tmp_path_factory.mktemp('reference')
    cfg = Config.fromfile(write_config(tmp / 'cfg.py', data_root, 0))
    cfg.work_dir = str(tmp / 'work')
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        Runner.from_cfg(cfg).train()
    finally:
        # randomness.deterministic switched it on for the whole test process
        torch.use_deterministic_algorithms(deterministic)
    return final_state(tmp / 'work')


@pytest.mark.parametrize('num_workers', [0, 2])
def test_sigkill_mid_epoch_then_resume_gives_bit_identical_weights(
        tmp_path, cifar10_root, reference, num_workers, monkeypatch):
    config = write_config(tmp_path / 'cfg.py', cifar10_root, num_workers)
    work_dir = tmp_path / 'work'
    # last_checkpoint is written once iter_5.pth is complete (iteration 5 of 12)
    sigkill_after_first_checkpoint(train_command(config, work_dir), work_dir)
    assert not (work_dir / f'iter_{MAX_EPOCHS * ITERS_PER_EPOCH}.pth').exists()

    output = resume_in_this_process(config, work_dir, monkeypatch)
    resumed = re.search(r'resumed epoch: (\d+), iter: (\d+)', output)
    assert resumed, output[-3000:]
    epoch, iteration = map(int, resumed.groups())
    # a checkpoint inside an epoch (5 or 10), so the skip of its first part is tested
    assert iteration % ITERS_PER_EPOCH != 0 and epoch == iteration // ITERS_PER_EPOCH
    assert 'ExactResumeHook: resumed inside epoch' in output

    state = final_state(work_dir)
    assert state.keys() == reference.keys()
    different = [key for key, value in reference.items()
                 if not torch.equal(state[key], value)]
    assert not different, f'{len(different)} of {len(reference)} tensors differ, ' \
                          f'e.g. {different[:3]}'


def test_empty_last_checkpoint_left_by_a_kill_is_repaired(tmp_path, cifar10_root):
    """A kill between CheckpointHook's truncation of last_checkpoint and its write
    leaves the file empty (and maybe a newer, partly written .pth): --resume goes on
    from the newest checkpoint that loads."""
    import copy
    import glob

    from test_reliability import TINY_CE, tiny_runner_cfg
    cfg = tiny_runner_cfg(TINY_CE, tmp_path, cifar10_root, **{
        'train_dataloader.dataset.indices': 8})
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    (tmp_path / 'last_checkpoint').write_text('')
    with open(tmp_path / 'epoch_1.pth', 'rb') as f:
        (tmp_path / 'epoch_2.pth').write_bytes(f.read()[:1000])  # cut off mid-write
    cfg.merge_from_dict({'resume': True, 'train_cfg.max_epochs': 2})
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    assert "ExactResumeHook: last_checkpoint named '', which does not exist" in log
    assert f'it now names {tmp_path / "epoch_1.pth"}' in log
    assert 'resumed epoch: 1, iter: 2' in log and runner.epoch == 2
