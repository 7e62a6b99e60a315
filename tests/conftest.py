import os
import os.path as osp

import pytest

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


@pytest.fixture(autouse=True)
def _chdir_repo_root(monkeypatch):
    # Configs name data relative to the repository root, as the tools run there.
    monkeypatch.chdir(REPO_ROOT)
