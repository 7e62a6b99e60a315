"""The main job (`make demo`) in its reduced mode, end to end."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
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


def _table_row(name, ce, cds, fmt):
    """The demo table's row for one measure, written here from the raw values."""
    return f'| {name} | {ce:{fmt}} | {cds:{fmt}} | {cds - ce:+{fmt}} |'


def test_results_table_puts_ce_cds_and_their_difference_side_by_side():
    from mmcds.demo.report import results_table
    classifiers = {m: dict(top1=t, ece=e) for m, t, e in (('CE', 90.0, 3.25),
                                                           ('CDS', 92.5, 2.0))}
    detection = {m: dict(mAP=a, mAP_50=b) for m, a, b in (('CE', 40.04, 70.0),
                                                          ('CDS', 45.5, 69.25))}
    timings = {'train CE classifier': 10.0, 'train CDS classifier': 21.0,
               'fine-tune Faster R-CNN from the CE backbone': 30.0,
               'fine-tune Faster R-CNN from the CDS backbone': 31.0, 'total': 99.0}
    table = results_table(dict(classifiers=classifiers, detection=detection,
                               timings=timings))
    assert table.splitlines()[0] == '| result | cross-entropy | CDS | CDS - CE |'
    for row in ('| classifier top-1 (%) | 90.00 | 92.50 | +2.50 |',
                '| classifier expected calibration error (%, 15 bins) | 3.25 | 2.00 | -1.25 |',
                "| Faster R-CNN from the classifier's backbone, COCO bbox mAP (%) | 40.0 | "
                '45.5 | +5.5 |',
                "| Faster R-CNN from the classifier's backbone, COCO bbox mAP@0.5 (%) | "
                '70.0 | 69.2 | -0.8 |',
                '| time: train the classifier (s) | 10 | 21 | +11 |',
                '| time: fine-tune Faster R-CNN (s) | 30 | 31 | +1 |'):
        assert row in table.splitlines(), row
    assert table.endswith('time: total (s): 99')


def _backbone(checkpoint, prefix=''):
    state_dict = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def _distance(weights, reference):
    """L2 distance between the conv kernels two backbone state dicts share."""
    keys = [k for k in reference if k.endswith('.weight') and reference[k].dim() == 4]
    assert len(keys) >= 20
    return float(torch.sqrt(sum(((weights[k] - reference[k])**2).sum() for k in keys)))


def test_demo_quick_mode_prints_the_table_and_writes_plots(tmp_path):
    work_dir = tmp_path / 'demo'
    result = subprocess.run([sys.executable, 'tools/demo.py', '--quick', '--work-dir',
                             str(work_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert '| result | cross-entropy | CDS | CDS - CE |' in result.stdout
    assert 'time: total (s): ' in result.stdout
    for method in ('CE', 'CDS'):
        assert f'[demo] step: convert the {method} checkpoint' in output
    for run in ('CE classifier', 'CDS classifier', 'Faster R-CNN from CE',
                'Faster R-CNN from CDS'):
        assert f'[progress] {run} seed 0: epoch 1/' in output, run
    for name in ('results.md', 'results.json', 'training_curves.png',
                 'per_class_accuracy.png', 'reliability.png'):
        assert osp.getsize(work_dir / name) > 0, name
        assert name in result.stdout, name
    results = json.loads((work_dir / 'results.json').read_text())
    # The printed table's top-1 and ECE, recomputed from the saved per-sample test
    # outputs (quick mode trains too little for the values to beat chance).
    top1, ece, samples = {}, {}, {}
    for method in ('CE', 'CDS'):
        samples[method] = np.load(work_dir / method.lower() / 'calibration.npz')
        assert len(samples[method]['correct']) == 450  # the digits' test split
        top1[method] = 100 * samples[method]['correct'].mean()
        ece[method] = ece_by_hand(samples[method]['confidences'],
                                  samples[method]['correct'])
        per_class = results['classifiers'][method]['per_class']
        assert len(per_class) == 10 and np.mean(per_class) == pytest.approx(
            top1[method], abs=3)
    assert _table_row('classifier top-1 (%)', top1['CE'], top1['CDS'], '.2f') \
        in result.stdout
    assert _table_row('classifier expected calibration error (%, 15 bins)', ece['CE'],
                      ece['CDS'], '.2f') in result.stdout
    assert len(results['classifiers']['CDS']['history']['loss_cds_stage4']) > 0
    assert results['classifiers']['CE']['history']['loss_cds_stage1'] == []

    # Each detector was fine-tuned from its own classifier's backbone: the converted
    # checkpoint holds that classifier's backbone tensors, the detector's config names
    # it, and after a few small steps the detector's backbone is still next to it and
    # far from the other one (the two classifiers differ).
    backbones = {m: _backbone(work_dir / f'{m.lower()}_backbone.pth') for m in ('CE', 'CDS')}
    detector_cfgs = {}
    for method, other in (('CE', 'CDS'), ('CDS', 'CE')):
        own = backbones[method]
        classifier = _backbone(work_dir / method.lower() / 'epoch_1.pth', 'backbone.')
        assert own.keys() == classifier.keys()
        assert all(torch.equal(own[k], classifier[k]) for k in own)
        det_dir = work_dir / f'faster_rcnn_{method.lower()}'
        detector = _backbone(det_dir / 'epoch_1.pth', 'backbone.')
        moved, apart = _distance(detector, own), _distance(detector, backbones[other])
        assert moved < 0.1 * apart, (method, moved, apart)
        cfg = Config.fromfile(str(det_dir / 'faster_rcnn_r18-w16_fpn_digits.py'))
        assert cfg.model.backbone.init_cfg.checkpoint == str(
            work_dir / f'{method.lower()}_backbone.pth')
        detector_cfgs[method] = cfg
    # ... with the same schedule, seed and data.
    same = ('randomness', 'train_cfg', 'param_scheduler', 'optim_wrapper',
            'train_dataloader', 'test_dataloader', 'test_evaluator')
    for field in same:
        assert detector_cfgs['CE'][field] == detector_cfgs['CDS'][field], field
    # Both start from the same weights (paired seeds: the CDS heads are built on a
    # random stream of their own), so after the quick mode's epoch they differ by
    # what training did; a swapped or shared checkpoint gives 0.
    assert _distance(backbones['CE'], backbones['CDS']) > 0.1

    # The printed mAPs are those each run's test logged (mmdet's CocoMetric logs
    # nothing when no box scores above the threshold: the demo reports 0 then).
    maps = {}
    for method in ('CE', 'CDS'):
        log_dir = results['detection'][method]['log_dir']
        assert log_dir.startswith(str(work_dir / f'faster_rcnn_{method.lower()}'))
        logged = json.loads(open(osp.join(log_dir, osp.basename(log_dir) + '.json'))
                            .readlines()[-1])
        maps[method] = {key: 100 * logged.get(f'coco/bbox_{key}', 0.0)
                        for key in ('mAP', 'mAP_50')}
        assert len(results['detection'][method]['history']['loss']) > 0
    for key, name in (('mAP', 'mAP (%)'), ('mAP_50', 'mAP@0.5 (%)')):
        assert _table_row(f"Faster R-CNN from the classifier's backbone, COCO bbox {name}",
                          maps['CE'][key], maps['CDS'][key], '.1f') in result.stdout

    # The reliability diagrams are those of the two classifiers' saved test outputs,
    # CE then CDS, one panel each.
    from mmcds.experiments.report import plot_reliability_grid
    png = Image.open(work_dir / 'reliability.png')
    assert png.format == 'PNG'
    redrawn = plot_reliability_grid(
        {name: (samples[m]['confidences'], samples[m]['correct'])
         for m, name in (('CE', 'cross-entropy'), ('CDS', 'CDS'))},
        num_bins=15, path=str(tmp_path / 'redrawn.png'))
    assert np.array_equal(np.asarray(png), np.asarray(Image.open(redrawn)))
    assert png.size[0] > 1.8 * png.size[1]  # two panels side by side
