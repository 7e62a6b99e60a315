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


def _mean_sd(values, fmt, sign=''):
    """'mean ± sd' as the demo's table writes it, computed here with numpy."""
    values = np.asarray(values, dtype=np.float64)
    return f'{values.mean():{sign}{fmt}} ± {values.std(ddof=1):{fmt}}'


def _table_row(name, ce, cds, fmt):
    """The demo table's row for one measure, written here from the per-seed values."""
    differences = [b - a for a, b in zip(ce, cds)]
    return (f'| {name} | {_mean_sd(ce, fmt)} | {_mean_sd(cds, fmt)} | '
            f"{_mean_sd(differences, fmt, '+')} | "
            f"{', '.join(f'{d:+{fmt}}' for d in differences)} |")


def _run(seed, top1, ece, mAP, mAP_50, times):
    return dict(seed=seed,
                classifiers={m: dict(top1=t, ece=e, train_seconds=s) for m, t, e, s in
                             zip(('CE', 'CDS'), top1, ece, times[:2])},
                detection={m: dict(mAP=a, mAP_50=b, train_seconds=s) for m, a, b, s in
                           zip(('CE', 'CDS'), mAP, mAP_50, times[2:])})


def test_results_table_gives_mean_sd_and_the_paired_differences_per_seed():
    from mmcds.demo.report import results_table
    runs = [_run(0, (90.0, 92.5), (3.25, 2.0), (40.04, 45.5), (70.0, 69.25),
                 (10.0, 21.0, 30.0, 31.0)),
            _run(1, (91.0, 91.5), (3.0, 2.5), (42.0, 41.0), (71.0, 72.0),
                 (12.0, 20.0, 28.0, 33.0)),
            _run(2, (89.0, 92.0), (3.5, 2.25), (41.0, 44.0), (69.0, 70.5),
                 (11.0, 22.0, 29.0, 30.0))]
    table = results_table(dict(runs=runs, wall_seconds=99.0))
    assert table.splitlines()[0] == ('| result | cross-entropy | CDS | CDS - CE | '
                                     'CDS - CE per seed (0, 1, 2) |')
    # top-1: CE 90 ± 1, CDS 92 ± 0.5; differences +2.5, +0.5, +3.0 -> +2.00 ± 1.32
    assert ('| classifier top-1 (%) | 90.00 ± 1.00 | 92.00 ± 0.50 | +2.00 ± 1.32 | '
            '+2.50, +0.50, +3.00 |') in table.splitlines()
    # mAP: differences +5.46, -1.0, +3.0
    assert ("| Faster R-CNN from the classifier's backbone, COCO bbox mAP (%) | "
            '41.0 ± 1.0 | 43.5 ± 2.3 | +2.5 ± 3.3 | +5.5, -1.0, +3.0 |') in table
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
    """Two seeds, two runs at a time in worker processes: the table's numbers are those
    of each seed's saved test outputs and logs, each detector starts from its own
    seed's and method's backbone."""
    work_dir = tmp_path / 'demo'
    seeds = (0, 1)
    result = subprocess.run([sys.executable, 'tools/demo.py', '--quick', '--seeds', '0',
                             '1', '--jobs', '2', '--work-dir', str(work_dir)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert ('| result | cross-entropy | CDS | CDS - CE | CDS - CE per seed (0, 1) |'
            in result.stdout)
    assert 'time: total (s): ' in result.stdout
    assert 'noise of the seed, not an effect of CDS' in result.stdout
    # the silenced warning (mmcv via ColorJitter in every data worker) stays silent
    assert "Only use 'alpha'" not in output
    assert 'Multi-processing start method' not in output
    assert 'should not accept any other arguments' not in output  # a shared visualizer
    for seed in seeds:
        for run in ('CE classifier', 'CDS classifier', 'Faster R-CNN from CE',
                    'Faster R-CNN from CDS'):
            assert f'[progress] {run} seed {seed}: epoch 1/' in output, (run, seed)
    for name in ('results.md', 'results.json', 'training_curves.png',
                 'per_class_accuracy.png', 'reliability.png'):
        assert osp.getsize(work_dir / name) > 0, name
        assert name in result.stdout, name
    results = json.loads((work_dir / 'results.json').read_text())
    assert [run['seed'] for run in results['runs']] == list(seeds)
    # The printed top-1 and ECE, recomputed from each seed's saved per-sample test
    # outputs (quick mode trains too little for the values to beat chance).
    top1, ece, samples = {'CE': [], 'CDS': []}, {'CE': [], 'CDS': []}, {}
    for seed, run in zip(seeds, results['runs']):
        for method in ('CE', 'CDS'):
            saved = np.load(work_dir / f'seed{seed}' / method.lower() / 'calibration.npz')
            samples[method, seed] = saved
            assert len(saved['correct']) == 450  # the digits' test split
            top1[method].append(100 * saved['correct'].mean())
            ece[method].append(ece_by_hand(saved['confidences'], saved['correct']))
            per_class = run['classifiers'][method]['per_class']
            assert len(per_class) == 10 and np.mean(per_class) == pytest.approx(
                top1[method][-1], abs=3)
        assert len(run['classifiers']['CDS']['history']['loss_cds_stage4']) > 0
        assert run['classifiers']['CE']['history']['loss_cds_stage1'] == []
    assert _table_row('classifier top-1 (%)', top1['CE'], top1['CDS'], '.2f') \
        in result.stdout
    assert _table_row('classifier expected calibration error (%, 15 bins)', ece['CE'],
                      ece['CDS'], '.2f') in result.stdout
    # each seed drew its own split of the digits: other test images of a class
    def test_images(seed, digit='0'):
        folder = work_dir / 'data' / f'digits_seed{seed}' / 'test' / digit
        return np.stack([np.asarray(Image.open(f)) for f in sorted(folder.iterdir())])
    assert not np.array_equal(test_images(0), test_images(1))

    # Each detector was fine-tuned from its own classifier's backbone: the converted
    # checkpoint holds that classifier's backbone tensors, the detector's config names
    # it, and after a few small steps the detector's backbone is still next to it and
    # far from the other one (the two classifiers differ).
    maps = {'CE': {'mAP': [], 'mAP_50': []}, 'CDS': {'mAP': [], 'mAP_50': []}}
    for seed, run in zip(seeds, results['runs']):
        seed_dir = work_dir / f'seed{seed}'
        backbones = {m: _backbone(seed_dir / f'{m.lower()}_backbone.pth')
                     for m in ('CE', 'CDS')}
        detector_cfgs = {}
        for method, other in (('CE', 'CDS'), ('CDS', 'CE')):
            own = backbones[method]
            classifier = _backbone(seed_dir / method.lower() / 'epoch_1.pth', 'backbone.')
            assert own.keys() == classifier.keys()
            assert all(torch.equal(own[k], classifier[k]) for k in own)
            det_dir = seed_dir / f'faster_rcnn_{method.lower()}'
            detector = _backbone(det_dir / 'epoch_1.pth', 'backbone.')
            moved, apart = _distance(detector, own), _distance(detector, backbones[other])
            assert moved < 0.1 * apart, (seed, method, moved, apart)
            cfg = Config.fromfile(str(det_dir / 'faster_rcnn_r18-w16_fpn_digits.py'))
            assert cfg.model.backbone.init_cfg.checkpoint == str(
                seed_dir / f'{method.lower()}_backbone.pth')
            assert cfg.randomness.seed == seed
            detector_cfgs[method] = cfg
            # The printed mAPs are those each run's test logged, in its own log folder
            # (mmdet's CocoMetric logs nothing when no box scores above the
            # threshold: the demo reports 0 then).
            log_dir = run['detection'][method]['log_dir']
            assert log_dir.startswith(str(det_dir))
            logged = json.loads(open(osp.join(log_dir, osp.basename(log_dir) + '.json'))
                                .readlines()[-1])
            for key in ('mAP', 'mAP_50'):
                maps[method][key].append(100 * logged.get(f'coco/bbox_{key}', 0.0))
            # its training scalars went to its own folder too (a worker process runs
            # several detectors: each gets a visualizer of its own)
            with open(osp.join(log_dir, 'vis_data', 'scalars.json')) as f:
                assert '"loss"' in f.readline()
            assert len(run['detection'][method]['history']['loss']) > 0
        # ... with the same schedule, seed and data.
        same = ('randomness', 'train_cfg', 'param_scheduler', 'optim_wrapper',
                'train_dataloader', 'test_dataloader', 'test_evaluator')
        for field in same:
            assert detector_cfgs['CE'][field] == detector_cfgs['CDS'][field], field
        # Both start from the same weights (paired seeds: the CDS heads are built on a
        # random stream of their own), so after the quick mode's epoch they differ by
        # what training did; a swapped or shared checkpoint gives 0.
        assert _distance(backbones['CE'], backbones['CDS']) > 0.1
    for key, name in (('mAP', 'mAP (%)'), ('mAP_50', 'mAP@0.5 (%)')):
        assert _table_row(f"Faster R-CNN from the classifier's backbone, COCO bbox {name}",
                          maps['CE'][key], maps['CDS'][key], '.1f') in result.stdout

    # The reliability diagrams are those of the classifiers' saved test outputs, all
    # seeds pooled, CE then CDS, one panel each.
    from mmcds.experiments.report import plot_reliability_grid
    png = Image.open(work_dir / 'reliability.png')
    assert png.format == 'PNG'
    redrawn = plot_reliability_grid(
        {f'{name} (2 seed(s) pooled)': tuple(
            np.concatenate([samples[m, s][key] for s in seeds])
            for key in ('confidences', 'correct'))
         for m, name in (('CE', 'cross-entropy'), ('CDS', 'CDS'))},
        num_bins=15, path=str(tmp_path / 'redrawn.png'))
    assert np.array_equal(np.asarray(png), np.asarray(Image.open(redrawn)))
    assert png.size[0] > 1.6 * png.size[1]  # two panels side by side
