"""Reliability, round 3 (issue #24), through the real tools and Runner.from_cfg:
predictions read without running code, truncated checkpoints named (tools/test.py) or
skipped (--resume), a live run's work_dir lock, --cfg-options typos, a head width that
does not fit the backbone, a training subset that misses classes, and the gathered
SupCon loss on ranks with unequal batches. (The detection class check is in
test_reliability_round3_det.py, the semi-supervised configs in
test_semi_supervised.py.)"""
import glob
import os
import os.path as osp
import pickle
import shutil
import sys
import time

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmcds  # noqa: F401
from conftest import free_port, load_tool, shared_data
from mmcds.utils.checkpoint import CheckpointError
from mmcds.utils.work_dir_lock import LOCK_NAME, WorkDirInUseError, hold_work_dir
from test_reliability import TINY_CE, spread_indices, tiny_runner_cfg

# 10 training images (one a class), batches of 4: 3 iterations an epoch.
TRAIN_INDICES = spread_indices(1)
TEST_INDICES = [c * 1000 for c in range(10)]


def data_options(root):
    """--cfg-options of the tools for the tiny CE run above (train and test)."""
    return [f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.dataset.indices=' + ','.join(map(str, TRAIN_INDICES)),
            'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            f'test_dataloader.dataset.data_root={root}',
            'test_dataloader.dataset.indices=' + ','.join(map(str, TEST_INDICES)),
            'test_dataloader.num_workers=0', 'default_hooks.checkpoint.interval=1',
            'train_cfg.max_epochs=2']


def run_tool(name, argv, monkeypatch):
    """``tools/<name>.py *argv`` as its main() in this process."""
    monkeypatch.setattr(sys, 'argv', [f'tools/{name}.py', *map(str, argv)])
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        return load_tool(name).main()
    finally:
        torch.use_deterministic_algorithms(deterministic)


def logs(work_dir) -> str:
    return ''.join(open(log).read() for log in
                   sorted(glob.glob(osp.join(work_dir, '*', '*.log'))))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two epochs of the tiny CE config (Runner.from_cfg): epoch_1.pth, epoch_2.pth."""
    root = shared_data('cifar10')
    work_dir = tmp_path_factory.mktemp('trained')
    cfg = tiny_runner_cfg(TINY_CE, work_dir, root, **{
        'train_dataloader.dataset.indices': TRAIN_INDICES,
        'train_cfg.max_epochs': 2})
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    Runner.from_cfg(cfg).train()
    return dict(root=root, work_dir=str(work_dir),
                epochs=[str(work_dir / f'epoch_{e}.pth') for e in (1, 2)])


def truncated_copy(source, target):
    """``target``: the first half of ``source``, as a save cut off by a kill."""
    with open(source, 'rb') as f:
        data = f.read()
    with open(target, 'wb') as f:
        f.write(data[:len(data) // 2])
    return str(target)


# ------------------------------------------------------------ predictions (item 2)
class _WritesAFile:
    """What a malicious predictions pickle holds: loading it would run a command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_tools_read_predictions_without_running_code(trained, tmp_path, monkeypatch):
    preds = tmp_path / 'preds.pkl'
    run_tool('test', [TINY_CE, trained['epochs'][1], '--out', preds, '--work-dir',
                      tmp_path / 'test', '--cfg-options', *data_options(trained['root'])],
             monkeypatch)
    # a real --out file: the reliability diagram and the confusion matrix read it
    load_tool('analysis_tools/reliability_diagram').main(
        [str(preds), '--out', str(tmp_path / 'rel.png')])
    assert (tmp_path / 'rel.png').read_bytes()[:4] == b'\x89PNG'
    confusion = load_tool('analysis_tools/confusion_matrix').main
    confusion([TINY_CE, str(preds), '--out', str(tmp_path / 'cm.pkl')])
    with open(tmp_path / 'cm.pkl', 'rb') as f:
        assert torch.as_tensor(pickle.load(f)).sum() == len(TEST_INDICES)

    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pkl'
    with open(evil, 'wb') as f:
        pickle.dump([{'pred_score': torch.ones(10), 'gt_label': _WritesAFile(marker)}],
                    f)
    refused = rf'{evil}: refused to read it .* asks for posix\.system'
    with pytest.raises(pickle.UnpicklingError, match=refused):
        load_tool('analysis_tools/reliability_diagram').main(
            [str(evil), '--out', str(tmp_path / 'evil.png')])
    with pytest.raises(pickle.UnpicklingError, match=refused):
        confusion([TINY_CE, str(evil), '--out', str(tmp_path / 'evil_cm.pkl')])
    assert not marker.exists()


# ---------------------------------------------------- truncated checkpoints (6, 7)
def test_test_tool_names_a_truncated_checkpoint(trained, tmp_path, monkeypatch):
    cut = truncated_copy(trained['epochs'][1], tmp_path / 'epoch_2.pth')
    with pytest.raises(CheckpointError, match=rf'checkpoint {cut} cannot be loaded '
                       r'\(.*\); it is truncated'):
        run_tool('test', [TINY_CE, cut, '--work-dir', tmp_path,
                          '--cfg-options', *data_options(trained['root'])], monkeypatch)


def test_resume_falls_back_past_a_truncated_last_checkpoint(trained, tmp_path,
                                                            monkeypatch):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    first = shutil.copy(trained['epochs'][0], work_dir / 'epoch_1.pth')
    time.sleep(0.01)  # the truncated one is the newer file
    last = truncated_copy(trained['epochs'][1], work_dir / 'epoch_2.pth')
    (work_dir / 'last_checkpoint').write_text(last)
    # save_best's file (newest here) has no optimizer state: never resumed from.
    best = torch.load(trained['epochs'][1], weights_only=False)
    best.pop('optimizer')
    best_path = work_dir / 'best_accuracy_top1_epoch_2.pth'
    time.sleep(0.01)
    torch.save(best, best_path)
    argv = [TINY_CE, '--work-dir', work_dir, '--resume', '--no-validate',
            '--cfg-options', *data_options(trained['root'])]

    runner = run_tool('train', argv, monkeypatch)
    log = logs(work_dir)
    assert f'tools/train.py --resume: skipped {last} (cannot be loaded (' in log
    assert f'{best_path} (holds no optimizer state' in log
    assert f'resuming from {first}, the newest checkpoint' in log
    assert 'resumed epoch: 1, iter: 3' in log and runner.iter == 6

    # nothing that loads: an error naming every file and why
    for name in ('epoch_1.pth', 'epoch_2.pth', 'epoch_2.pth'):
        truncated_copy(trained['epochs'][0], work_dir / name)
    (work_dir / 'last_checkpoint').write_text(last)
    with pytest.raises(CheckpointError, match=rf'no checkpoint in {work_dir} loads: '
                       rf'{last} \(cannot be loaded .*{work_dir}/epoch_1.pth '
                       r'\(cannot be loaded'):
        run_tool('train', argv, monkeypatch)


# ------------------------------------------------------------- --cfg-options (10)
def test_a_cfg_options_typo_is_refused_naming_the_closest_key(trained, tmp_path,
                                                              monkeypatch):
    typo = r"--cfg-options train_dataloder.batch_size=4: unknown top-level key " \
           r"'train_dataloder' \(did you mean 'train_dataloader'\?\)"
    # (data that does not exist: were the typo let through, the run would stop soon)
    missing = tmp_path / 'no_data'
    with pytest.raises(ValueError, match=typo):
        run_tool('train', [TINY_CE, '--work-dir', tmp_path / 'train', '--cfg-options',
                           f'train_dataloader.dataset.data_root={missing}',
                           'train_dataloder.batch_size=4'], monkeypatch)
    with pytest.raises(ValueError, match=typo):
        run_tool('test', [TINY_CE, trained['epochs'][0], '--work-dir', tmp_path,
                          '--cfg-options', f'test_dataloader.dataset.data_root={missing}',
                          'train_dataloder.batch_size=4'], monkeypatch)
    assert not (tmp_path / 'train').exists()


# --------------------------------------------------------- work_dir lock (item 4)
def _train_for_long(argv):
    """A forked process that runs tools/train.py (forked: no imports to pay)."""
    sys.argv = ['tools/train.py', *map(str, argv)]
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        load_tool('train').main()


def test_a_second_run_into_a_live_work_dir_stops_naming_the_first(
        trained, tmp_path, monkeypatch):
    import multiprocessing
    work_dir = tmp_path / 'work'
    lock = work_dir / LOCK_NAME
    argv = [TINY_CE, '--work-dir', work_dir, '--no-validate', '--cfg-options',
            *data_options(trained['root'])]
    first = multiprocessing.get_context('fork').Process(
        target=_train_for_long, args=(argv + ['train_cfg.max_epochs=1000'], ))
    first.start()
    try:
        deadline = time.time() + 300
        while not lock.exists() and first.is_alive() and time.time() < deadline:
            time.sleep(0.05)
        assert lock.exists(), 'the first run never took the work_dir'
        with pytest.raises(WorkDirInUseError,
                           match=rf'in use by a live run: PID {first.pid} on host .*'
                           r'command: python.* tools/train.py'):
            run_tool('train', argv, monkeypatch)
        # ranks other than 0 of a distributed run into it do not take the lock
        monkeypatch.setenv('RANK', '1')
        with hold_work_dir(str(work_dir)):
            pass
        monkeypatch.delenv('RANK')
        # reading the work_dir while it trains is fine: tools/test.py takes no lock
        run_tool('test', [TINY_CE, trained['epochs'][0], '--work-dir', work_dir,
                          '--cfg-options', *data_options(trained['root'])],
                 monkeypatch)
        assert first.is_alive() and lock.exists()
    finally:
        first.kill()
        first.join(timeout=60)


def test_a_file_system_without_locks_runs_unguarded_with_a_warning(tmp_path,
                                                                   monkeypatch):
    """Lustre without -o flock answers flock with ENOSYS: the run goes on, warned,
    instead of every tools/train.py failing at start; other errors still raise."""
    import errno
    import fcntl

    def no_flock(fd, operation):
        raise OSError(errno.ENOSYS, 'Function not implemented')

    monkeypatch.setattr(fcntl, 'flock', no_flock)
    ran = []
    with pytest.warns(UserWarning, match=r'cannot lock .*train.lock \(Function not '
                      r'implemented\), so nothing stops a second run'):
        with hold_work_dir(str(tmp_path / 'lustre')):
            ran.append(True)
    assert ran == [True]

    def bad_fd(fd, operation):
        raise OSError(errno.EBADF, 'Bad file descriptor')

    monkeypatch.setattr(fcntl, 'flock', bad_fd)
    with pytest.raises(OSError, match='Bad file descriptor'):
        with hold_work_dir(str(tmp_path / 'other')):
            pass


# -------------------------------------------- model/data checks at start (8, 9)
class _StopBeforeIteration1(Hook):
    """Ends a run after before_train (every check of the start), before iteration 1."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        raise KeyboardInterrupt


def start(cfg):
    """Runner.from_cfg(cfg) up to iteration 1; the runner and its log."""
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_StopBeforeIteration1(), 'LOWEST')
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    return runner, open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()


def test_a_wrong_head_width_is_refused_before_iteration_1(tmp_path, cifar10_root):
    cfg = tiny_runner_cfg(TINY_CE, tmp_path, cifar10_root, **{
        'train_dataloader.dataset.indices': TRAIN_INDICES,
        'model.head.in_channels': 64})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'ClassCheckHook: model.head.in_channels=64 '
                       r'but the features that reach the head \(model.backbone \+ '
                       r'model.neck, ResNet_CIFAR\) have 128 channels; set '
                       r'model.head.in_channels=128'):
        runner.train()
    assert runner.iter == 0


def test_a_training_subset_missing_classes_is_named_at_start(tmp_path, cifar10_root):
    # the README's example: the first 8 images of class-sorted folders, one class
    _, log = start(tiny_runner_cfg(TINY_CE, tmp_path / 'first', cifar10_root, **{
        'train_dataloader.dataset.indices': 8}))
    assert "ClassCheckHook: train_dataloader.dataset = CustomDataset(" in log
    assert ('(indices=8) holds images of 1 of its 10 classes (9 without any: '
            "'automobile', 'bird', 'cat', 'deer', 'dog', ...)") in log
    _, log = start(tiny_runner_cfg(TINY_CE, tmp_path / 'spread', cifar10_root, **{
        'train_dataloader.dataset.indices': TRAIN_INDICES}))
    assert 'holds images of' not in log


# ---------------------------------------------- gathered SupCon, unequal batches (5)
def _unequal_batch_rank(rank, world_size, port, out_dir):
    import torch.distributed as dist

    from mmcds.models.losses import ContrastiveDSLoss
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    features = torch.nn.functional.normalize(torch.randn(4 - rank, 2, 8), dim=-1)
    try:
        ContrastiveDSLoss(gather_distributed=True)(features, torch.arange(4 - rank))
        message = 'no error'
    except ValueError as error:
        message = str(error)
    with open(osp.join(out_dir, f'rank{rank}.txt'), 'w') as f:
        f.write(message)
    dist.destroy_process_group()


def run_two_forked_ranks(target, *args, on_timeout: str):
    """``target(rank, 2, port, *args)`` in two forked processes; the test fails with
    ``on_timeout`` (and the ranks are killed) if they have not ended in 120 s."""
    import torch.multiprocessing as mp
    context = mp.start_processes(target, nprocs=2, join=False, start_method='fork',
                                 args=(2, free_port(), *args))
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(on_timeout)


def test_gathered_supcon_refuses_unequal_rank_batches(tmp_path):
    run_two_forked_ranks(_unequal_batch_rank, str(tmp_path),
                         on_timeout='the ranks did not end')
    for rank in range(2):
        message = (tmp_path / f'rank{rank}.txt').read_text()
        assert message.startswith("ContrastiveDSLoss(gather_distributed=True): the "
                                  "ranks' batches hold [4, 3] images"), message
        assert 'set train_dataloader.drop_last=True' in message


# --------------------------- resume with nothing to load, on every rank (item 6)
def _resume_nothing_loads_rank(rank, world_size, port, work_dir, out_dir):
    import types

    import torch.distributed as dist

    from mmcds.engine.hooks.exact_resume_hook import ExactResumeHook
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    runner = types.SimpleNamespace(_resume=True, _load_from=None, work_dir=work_dir)
    try:
        ExactResumeHook().before_run(runner)
        message = 'no error'
    except CheckpointError as error:
        message = str(error)
    with open(osp.join(out_dir, f'rank{rank}.txt'), 'w') as f:
        f.write(message)
    dist.destroy_process_group()


def test_every_rank_stops_when_no_checkpoint_loads(trained, tmp_path):
    """Rank 0 repairs last_checkpoint; when nothing loads, the other ranks must stop
    with its error rather than wait for it in the next collective."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    last = truncated_copy(trained['epochs'][1], work_dir / 'epoch_2.pth')
    (work_dir / 'last_checkpoint').write_text(last)
    run_two_forked_ranks(_resume_nothing_loads_rank, str(work_dir), str(tmp_path),
                         on_timeout='a rank waited for ever')
    for rank in range(2):
        message = (tmp_path / f'rank{rank}.txt').read_text()
        assert message.startswith('ExactResumeHook: last_checkpoint named'), message
        assert f'no checkpoint in {work_dir} loads' in message
