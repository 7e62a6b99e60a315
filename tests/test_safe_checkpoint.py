"""torch.load keeps weights_only=True, yet reads what mmengine runners write."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import mmcds  # noqa: F401  registers the allow-list on import
from mmcds.utils import register_safe_checkpoint_globals


def runner_like_checkpoint():
    """The parts of an mmengine checkpoint that are not plain tensors."""
    hub = MessageHub.get_instance('mmcds_test_safe_checkpoint')
    for value in (2.5, 1.5, np.float32(0.5)):
        hub.update_scalar('train/loss', value)
    hub.update_info('iter', 7)
    hub.update_info('lr', np.float64(0.1))
    hub.update_info('dtype', np.dtype('float32'))
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3])
    return dict(
        meta=dict(epoch=1, iter=7, seed=np.int64(0), time='20261123',
                  dataset_meta=dict(classes=('a', 'b')),
                  mmengine_version='0.10.7'),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        optimizer=optimizer.state_dict(),
        param_schedulers=[scheduler.state_dict()],
        np_array=np.arange(4, dtype=np.int64))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = osp.join(tmp_path, 'epoch_1.pth')
    torch.save(runner_like_checkpoint(), path)
    loaded = torch.load(path)  # torch's default: weights_only=True
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == pytest.approx(0.5)
    assert buffer.mean() == pytest.approx(1.5)
    assert loaded['message_hub']['runtime_info']['lr'] == pytest.approx(0.1)
    assert loaded['meta']['seed'] == 0
    assert np.array_equal(loaded['np_array'], np.arange(4))


def test_without_the_allow_list_torch_refuses_it(tmp_path):
    """Guards the test above: the allow-list is what makes the load work."""
    path = osp.join(tmp_path, 'epoch_1.pth')
    torch.save(runner_like_checkpoint(), path)
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|numpy'):
            torch.load(path)
    finally:
        register_safe_checkpoint_globals()


class _Exploit:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_checkpoint_that_calls_a_function_is_still_refused(tmp_path):
    marker = osp.join(tmp_path, 'pwned')
    path = osp.join(tmp_path, 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _Exploit(marker)}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    from mmengine.runner import load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(1, 1), path)
    assert not osp.exists(marker)


class _GetattrExploit:
    """A pickle that tries to reach eval through getattr on an allowed class."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = osp.join(tmp_path, 'evil_getattr.pth')
    torch.save({'meta': _GetattrExploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match="'__init__'"):
        torch.load(path)


def test_fresh_process_loads_runner_checkpoint(tmp_path):
    """As in --resume: nothing from mmengine.logging has run before the load."""
    import subprocess
    import sys
    path = osp.join(tmp_path, 'epoch_1.pth')
    torch.save(runner_like_checkpoint(), path)
    code = ('import sys, torch, mmcds; ck = torch.load(sys.argv[1]); '
            "print(ck['message_hub']['log_scalars']['train/loss'].mean())")
    result = subprocess.run([sys.executable, '-c', code, path], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == '1.5'
