"""The main job (`make demo`) in its reduced mode, end to end."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO_ROOT, ece_by_hand
from mmcds.demo.digits_data import write_digits_classification, write_digits_detection


def test_digits_data_sets(tmp_path):
    counts = write_digits_classification(str(tmp_path / 'cls'), size=32)
    assert counts == {'train': 1347, 'test': 450}
    image = Image.open(next((tmp_path / 'cls' / 'test' / '7').glob('*.png')))
    assert image.size == (32, 32) and image.mode == 'RGB'
    boxes = write_digits_detection(str(tmp_path / 'det'), num_train=6, num_val=3)
    coco = json.loads((tmp_path / 'det' / 'annotations' / 'instances_val2017.json').read_text())
    assert len(coco['images']) == 3 and boxes['val2017'] == len(coco['annotations']) >= 3
    assert [c['name'] for c in coco['categories']] == [str(d) for d in range(10)]
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128 and w > 4 and h > 4
        # the box is tight: ink on its border rows and columns
        canvas = np.asarray(Image.open(tmp_path / 'det' / 'val2017' / coco['images'][
            ann['image_id'] - 1]['file_name']).convert('L'))
        patch = canvas[int(y):int(y + h), int(x):int(x + w)]
        assert patch.max() > 64 and patch[0].max() > 64 and patch[:, 0].max() > 64


def test_demo_quick_mode_prints_the_table_and_writes_plots(tmp_path):
    work_dir = tmp_path / 'demo'
    result = subprocess.run([sys.executable, 'tools/demo.py', '--quick', '--work-dir',
                             str(work_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    for row in ('classifier top-1 (%), cross-entropy', 'classifier top-1 (%), CDS',
                'expected calibration error', 'COCO bbox mAP (%)', 'time: total (s)'):
        assert row in result.stdout, row
    assert '[demo] step: convert the CDS checkpoint' in output
    for run in ('CE classifier', 'CDS classifier', 'Faster R-CNN'):
        assert f'[progress] {run} seed 0: epoch 1/' in output, run
    for name in ('results.md', 'results.json', 'training_curves.png',
                 'per_class_accuracy.png'):
        assert osp.getsize(work_dir / name) > 0, name
    results = json.loads((work_dir / 'results.json').read_text())
    # The printed table's top-1 and ECE, recomputed from the saved per-sample test
    # outputs (quick mode trains too little for the values to beat chance).
    for method, name in (('CE', 'cross-entropy'), ('CDS', 'CDS')):
        samples = np.load(work_dir / method.lower() / 'calibration.npz')
        assert len(samples['correct']) == 450  # the digits' test split
        top1 = 100 * samples['correct'].mean()
        ece = ece_by_hand(samples['confidences'], samples['correct'])
        assert f"| classifier top-1 (%), {name} | {top1:.2f} |" in result.stdout
        assert f"calibration error (%, 15 bins), {name} | {ece:.2f} |" in result.stdout
        per_class = results['classifiers'][method]['per_class']
        assert len(per_class) == 10 and np.mean(per_class) == pytest.approx(top1, abs=3)
    assert len(results['classifiers']['CDS']['history']['loss_cds_stage4']) > 0
    assert results['classifiers']['CE']['history']['loss_cds_stage1'] == []
    assert f"COCO bbox mAP (%) | {results['detection']['mAP']:.1f} |" in result.stdout
    assert len(results['detection']['history']['loss']) > 0
    assert osp.isfile(work_dir / 'cds_backbone.pth')
