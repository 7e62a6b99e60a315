"""`import mmcds` silences the third-party warnings that repeat without telling anything,
and only those (issue #26, 4). Run in a fresh interpreter: pytest installs filters of
its own (pytest.ini ignores every UserWarning)."""
import subprocess
import sys

from conftest import REPO_ROOT

SCRIPT = r'''
import warnings
import mmcds
import numpy as np
from mmengine.config import Config
from mmpretrain.datasets.transforms import ColorJitter

# mmpretrain's ColorJitter under the pillow backend calls mmcv.adjust_color(alpha=...)
results = ColorJitter(saturation=0.4, backend='pillow')(
    dict(img=np.full((8, 8, 3), 100, dtype=np.uint8)))
assert results['img'].shape == (8, 8, 3)
# mmengine reloads pkg_resources for each mmpretrain:: base
Config.fromfile('configs/ce/resnet18-w16_1xb64_cifar10-jpg.py')
# the same texts from another module, and any other warning, still show
warnings.warn("Only use 'alpha' for pillow backend.")
warnings.warn('an unrelated warning')
'''


def test_uninformative_warnings_are_silenced_and_others_still_show():
    out = subprocess.run([sys.executable, '-c', SCRIPT], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    shown = [line for line in out.stderr.splitlines() if 'Warning:' in line]
    assert not [line for line in shown if 'pkg_resources is deprecated' in line], shown
    alpha = [line for line in shown if "Only use 'alpha'" in line]
    assert len(alpha) == 1 and alpha[0].startswith('<string>:'), shown
    assert any('an unrelated warning' in line for line in shown), shown
