"""mmpretrain's print_config and browse_dataset run on our configs through the wrappers
in tools/ (issue #26, 3)."""
import os.path as osp
import runpy
import subprocess
import sys

from PIL import Image

from conftest import REPO_ROOT


def test_print_config_of_a_project_that_inherits_ours(tmp_path):
    """A fresh interpreter, as a user runs the tool: the wrapper imports mmcds before
    mmpretrain's tool reads a config that inherits `mmcds::`."""
    config = tmp_path / 'my_cds.py'
    config.write_text("_base_ = 'mmcds::cds/resnet18-w16_1xb64_cifar10-jpg.py'\n"
                      "model = dict(head=dict(num_classes=7))\n")
    out = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools/misc/print_config.py'),
                          str(config), '--cfg-options', 'model.cds_loss.temperature=0.2'],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert "type='CDSClassifier'" in text and 'num_classes=7' in text
    assert 'temperature=0.2' in text


def test_browse_dataset_shows_both_views_of_a_cds_config(tmp_path, monkeypatch,
                                                        cifar10_root):
    monkeypatch.setattr(sys, 'argv', [
        'browse_dataset.py', 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py',
        '--output-dir', str(tmp_path), '--show-number', '1', '--mode', 'transformed',
        '--not-show', '--cfg-options', f'train_dataloader.dataset.data_root={cifar10_root}'])
    runpy.run_path(osp.join(REPO_ROOT, 'tools/visualization/browse_dataset.py'),
                   run_name='__main__')
    (written, ) = tmp_path.iterdir()
    width, height = Image.open(written).size
    assert height > 2 * width  # the two 32x32 views, one above the other
