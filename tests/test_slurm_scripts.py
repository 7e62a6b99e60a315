"""tools/slurm_train.sh and tools/slurm_test.sh hand srun mmpretrain's arguments and
our tools (issue #26, 3). A stand-in `srun` on PATH records what it is given."""
import os
import stat
import subprocess

import pytest

from conftest import REPO_ROOT

FAKE_SRUN = '''#!/usr/bin/env bash
printf '%s\\n' "$@" > "$SRUN_RECORD"
'''


@pytest.mark.parametrize('script, positional, tool', [
    ('slurm_train.sh', ['configs/cds/resnet50_8xb32_in1k.py', 'work_dirs/cds_r50'],
     'train.py'),
    ('slurm_test.sh', ['configs/cds/resnet50_8xb32_in1k.py', 'work_dirs/cds_r50/epoch_90.pth'],
     'test.py'),
])
def test_srun_gets_the_tasks_and_the_tool_command(tmp_path, script, positional, tool):
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / 'srun_args.txt'
    env = dict(os.environ, PATH=f'{srun.parent}:{os.environ["PATH"]}',
               SRUN_RECORD=str(record), GPUS='4', GPUS_PER_NODE='2', CPUS_PER_TASK='3',
               SRUN_ARGS='--qos=low', PYTHON='python3')
    out = subprocess.run(['bash', os.path.join(REPO_ROOT, 'tools', script), 'gpu_part',
                          'cds_job', *positional, '--cfg-options', 'randomness.seed=1'],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    args = record.read_text().splitlines()
    tool_at = args.index('python3')
    assert args[:tool_at] == ['-p', 'gpu_part', '--job-name=cds_job', '--gres=gpu:2',
                              '--ntasks=4', '--ntasks-per-node=2', '--cpus-per-task=3',
                              '--kill-on-bad-exit=1', '--qos=low']
    command = args[tool_at + 1:]
    assert command[:2] == ['-u', os.path.join(REPO_ROOT, 'tools', tool)]
    assert command[2] == positional[0]
    if tool == 'train.py':
        assert command[3] == f'--work-dir={positional[1]}'
    else:
        assert command[3] == positional[1]
    assert command[4:] == ['--launcher=slurm', '--cfg-options', 'randomness.seed=1']
