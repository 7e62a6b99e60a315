"""Progress of long work (issue #16, 6): a line per finished epoch with the run's label
and the time left, shown by the comparison's parent process and by the demo."""
import argparse
import sys

from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401
from mmcds.experiments import comparison, progress
from mmcds.experiments.progress import ProgressHook, format_seconds


def test_format_seconds():
    assert [format_seconds(s) for s in (0.4, 42, 185, 3725)] == \
        ['0 s', '42 s', '3 min 05 s', '1 h 02 min']


def test_hook_logs_epoch_and_time_left(tmp_path, monkeypatch, cifar10_root):
    """3 epochs of 2 iterations; a clock that advances 10 s between the hook's calls:
    after epoch 1, 10 s for 2 of 6 iterations leaves 4 iterations, ~20 s."""
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(progress.time, 'perf_counter', lambda: next(clock))
    lines = []
    monkeypatch.setattr(progress, 'print_log', lambda msg, logger: lines.append(msg))
    cfg = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py')
    cfg.merge_from_dict({
        'work_dir': str(tmp_path), 'train_dataloader.dataset.data_root': cifar10_root,
        'train_dataloader.dataset.indices': 16, 'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 3, 'default_hooks.checkpoint.interval': 10})
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.register_hook(ProgressHook('CDS seed 0'))
    runner.train()
    assert lines == [
        '[progress] CDS seed 0: epoch 1/3, 10 s elapsed, ~20 s left',
        '[progress] CDS seed 0: epoch 2/3, 20 s elapsed, ~10 s left',
        '[progress] CDS seed 0: epoch 3/3, 30 s elapsed, ~0 s left',
    ]


def test_comparison_shows_the_childs_progress_lines(tmp_path, monkeypatch, capsys):
    """The parent keeps the child's whole output in compare.log and echoes only its
    progress lines (as mmengine's logger prints them)."""
    child = (
        'import json, sys\n'
        "print('11/23 10:00:00 - mmengine - INFO - Epoch(train) [1][2/2] loss: 1.0')\n"
        "print('11/23 10:00:01 - mmengine - INFO - [progress] CDS seed 3: epoch 1/2, "
        "5 s elapsed, ~5 s left', flush=True)\n"
        "json.dump({'method': 'cds'}, open(sys.argv[1], 'w'))\n")
    result_file = tmp_path / 'cds' / 'seed3' / 'result.json'
    monkeypatch.setattr(comparison, 'child_command', lambda args, method, seed, script:
                        [sys.executable, '-c', child, str(result_file)])
    args = argparse.Namespace(work_dir=str(tmp_path), config_of={'cds': 'x.py'},
                              resume=False)
    result, _ = comparison._train_in_subprocess(args, 'cds', 3, 'unused', {}, ' (2/5)')
    assert result == {'method': 'cds'}
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('[compare] cds seed 3 (2/5): training (x.py)')
    assert out[1:] == ['[compare] CDS seed 3: epoch 1/2, 5 s elapsed, ~5 s left']
    log = (tmp_path / 'cds' / 'seed3' / 'compare.log').read_text()
    assert 'Epoch(train) [1][2/2]' in log and '[progress] CDS seed 3' in log
