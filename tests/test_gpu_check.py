"""tools/analysis_tools/gpu_check.sh (issue #22, 4): its CPU rehearsal (``--dry-run``,
what CI runs) goes through every step and writes the tables; the pieces the rehearsal
cannot reach on the CPU (its own processes with a time limit, the targets) are
checked on their own."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from mmcds.experiments.gpu_check import run_process
from mmcds.experiments.gpu_check_report import read_tables, targets_report

STEPS = ['environment', 'tests', 'r50_bs2', 'c100', 'detection', 'resume', 'syncs',
         'compile']


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check')
    result = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'gpu_check.sh'),
         '--out', str(out), '--dry-run'], capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1'))
    return result, out


def section(summary: str, name: str) -> str:
    return summary.split(f'\n## {name}\n', 1)[1].split('\n## ', 1)[0]


def test_dry_run_goes_through_every_step(dry_run):
    result, out = dry_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (out / 'summary.md').read_text()
    assert summary.startswith('# mmcds GPU check (dry run on the CPU')
    steps = {row['step']: row for row in read_tables(summary.split('## targets')[0])}
    assert list(steps) == STEPS
    assert all(row['status'] == 'ok' for row in steps.values()), steps
    for name in STEPS:
        assert (out / f'{name}.md').exists(), name
    environment = {row['what']: row['here'] for row in read_tables(
        section(summary, 'environment'))}
    assert environment['mmcv'].startswith('2.1.0; ops: ')
    assert environment['--amp picks'] == ('classifiers: CPUAmpOptimWrapper, '
                                          'detectors: refused (no CUDA)')
    assert 'tests/test_gpu.py' in section(summary, 'tests')


def test_dry_run_tables(dry_run):
    _, out = dry_run
    summary = (out / 'summary.md').read_text()
    r50 = [row['row'] for row in read_tables(section(summary, 'r50_bs2'))]
    assert r50 == [f'{m} {s}' for s in ('eager', 'amp+channels_last')
                   for m in ('CE', 'DSN', 'CDS', 'plain CDS')]
    c100 = [row['row'] for row in read_tables(section(summary, 'c100'))]
    assert c100 == ['CE eager', 'CDS eager', 'plain CDS eager']
    detection = read_tables(section(summary, 'detection'))
    assert [(row['run'], row['exit']) for row in detection] == [('fp32', '0')]
    assert float(detection[0]['loss']) > 0
    assert '**bit-identical** (' in section(summary, 'resume')
    targets = read_tables(section(summary, 'targets'))
    assert [row['target'] for row in targets] == [
        'R50 CE train img/s, best switch', 'R50 CDS train img/s, best switch',
        'R50 CDS step / plain CDS step, worst switch',
        'R50 CDS predict / CE predict, worst switch']
    assert all(row['measured'] != 'not measured' for row in targets)


def test_targets_are_read_off_the_tables():
    table = '\n'.join([
        '| row | train img/s | x plain CDS | predict x CE |', '|---|---|---|---|',
        '| CE amp | 2600 | - | 1.00 [1.00-1.00] |',
        '| CDS amp | 1200 | 1.04 [1.00-1.10] | 1.02 [0.99-1.05] |',
        '| CDS eager | 700 | 1.07 [1.01-1.09] | 1.01 [1.00-1.02] |',
        '| plain CDS amp | 1250 | 1.00 [1.00-1.00] | - |'])
    rows = {row['target']: row for row in read_tables(targets_report(
        [('r50_bs256', table), ('c100', table.replace('2600', '9999'))], False))}
    best_ce = rows['R50 CE train img/s, best switch']
    assert (best_ce['measured'], best_ce['met']) == ('2600 (CE amp)', 'yes')
    assert rows['R50 CDS train img/s, best switch']['met'] == 'NO'
    assert rows['R50 CDS step / plain CDS step, worst switch']['measured'] == \
        '1.07 (CDS eager)'
    assert rows['R50 CDS predict / CE predict, worst switch']['met'] == 'yes'


def test_a_gpu_step_is_a_process_group_stopped_at_its_limit(tmp_path):
    """On the GPU each step's command runs as its own process group: its output
    goes to the log, and at the time limit the whole group is killed (124), a
    dataloader-worker-like grandchild included."""
    import time
    log_path, late = tmp_path / 'step.log', tmp_path / 'grandchild_lived'
    with open(log_path, 'w') as log:
        assert run_process([sys.executable, '-c', 'print("hello")'], log,
                           str(tmp_path), dict(os.environ), timeout=60) == 0
        grandchild = f'import time; time.sleep(3); open({str(late)!r}, "w").close()'
        child = ('import subprocess, sys, time; subprocess.Popen([sys.executable, '
                 f'"-c", {grandchild!r}]); print("started", flush=True); time.sleep(60)')
        assert run_process([sys.executable, '-c', child], log, str(tmp_path),
                           dict(os.environ), timeout=2) == 124
    time.sleep(4)
    assert not late.exists()
    assert log_path.read_text().split() == ['hello', 'started']
