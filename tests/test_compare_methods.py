"""tools/compare_methods.py and the library behind it (mmcds.experiments): config
overrides, table, and a tiny end-to-end run on a synthetic class-folder data set (plus
a look at the real CIFAR-10 folders)."""
import json
import re

import numpy as np
import pytest

from conftest import ece_by_hand, load_tool



compare = load_tool('compare_methods')
from mmcds.experiments import class_counts, comparison, spread_indices  # noqa: E402
CLASSES = ['ant', 'bee', 'cat', 'dog']


@pytest.fixture
def tiny_data(tmp_path):
    """4 classes x (6 train + 3 test) 32x32 JPEGs; each class has its own colour so
    that even one epoch learns something."""
    import cv2
    rng = np.random.default_rng(0)
    for split, count in (('train', 6), ('test', 3)):
        for label, name in enumerate(CLASSES):
            folder = tmp_path / 'data' / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = rng.integers(0, 60, (32, 32, 3), dtype=np.uint8)
                image[..., label % 3] += 150
                cv2.imwrite(str(folder / f'{i:04d}.jpg'), image)
    return str(tmp_path / 'data')


def test_spread_indices_take_every_class():
    indices = spread_indices(10000, 100)
    assert len(indices) == 100 and len(set(indices)) == 100
    # CustomDataset sorts by class: 1000 images per class -> 10 from each.
    assert np.bincount(np.asarray(indices) // 1000).tolist() == [10] * 10
    assert spread_indices(50, None) is None
    assert spread_indices(50, 80) is None


def test_build_config_applies_the_shared_overrides(tiny_data, tmp_path):
    args = compare.parse_args(['--data-root', tiny_data, '--epochs', '3',
                               '--train-subset', '8', '--work-dir', str(tmp_path),
                               '--num-bins', '10', '--batch-size', '4'])
    for method in ('ce', 'cds'):  # single- and two-view pipelines
        cfg, num_classes = comparison.build_config(args, method)
        assert num_classes == 4 and cfg.model.head.num_classes == 4
        assert cfg.train_cfg.max_epochs == 3 and cfg.param_scheduler.T_max == 3
        assert cfg.param_scheduler.convert_to_iter_based  # cosine per iteration
        assert cfg.val_dataloader is None and cfg.val_cfg is None
        assert cfg.test_evaluator[1] == dict(type='ExpectedCalibrationError',
                                             num_bins=10)
        assert cfg.randomness.seed == 0
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_dataloader.dataset.indices == [0, 3, 6, 9, 12, 15, 18, 21]
        assert cfg.test_dataloader.dataset.data_prefix == 'test'
        assert cfg.test_dataloader.dataset.get('indices') is None
    with pytest.raises(FileNotFoundError, match='split folder'):
        comparison.build_config(compare.parse_args(
            ['--data-root', str(tmp_path / 'nowhere')]), 'ce')


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        compare.parse_args(['--methods', 'ce', 'resnet'])
    with pytest.raises(SystemExit):
        compare.parse_args(['--epochs', '0'])
    with pytest.raises(SystemExit):
        compare.parse_args(['--config', 'dsn'])


def test_table_format():
    ok = dict(method='ce', name='CE', config='configs/ce/x.py', top1=81.234, ece=3.456,
              sec_per_image=0.00123, device='cpu', peak_rss_mib=900.4,
              rss_train_start_mib=700.0, params_train=1.2e6, params_test=1.0e6)
    failed = dict(method='cds', name='CDS', config='configs/cds/x.py', error='boom')
    table = comparison.format_table([ok, failed]).splitlines()
    assert table[0].startswith('| Method | Top-1 (%) | ECE (%) | Train s / image |')
    assert table[2] == ('| CE | 81.23 | 3.46 | 1.23 ms | 900 [+200] | 1.200 / 1.000 | '
                        '`configs/ce/x.py` |')
    assert table[3].startswith('| CDS | failed: boom |')


def test_tiny_end_to_end_run(tiny_data, tmp_path, capsys):
    work_dir = tmp_path / 'compare'
    # One single-view method with auxiliary classifiers and the two-view CDS; the
    # other configs' models are exercised in test_baselines.py.
    methods = ['dks', 'cds']
    code = compare.main(['--methods', *methods, '--data-root', tiny_data,
                         '--epochs', '1', '--batch-size', '8', '--num-workers', '0',
                         '--train-subset', '16', '--work-dir', str(work_dir)])
    assert code == 0
    printed = capsys.readouterr().out
    # progress: which method (of how many), its epochs and the time left
    assert re.search(r'\[compare\] dks \(1/2\): training', printed)
    assert re.search(r'\[compare\] CDS seed 0: epoch 1/1, .* elapsed, ~0 s left', printed)
    report = (work_dir / 'results.md').read_text()
    rows = [line for line in report.splitlines() if line.startswith('| ')][1:]
    assert [row.split('|')[1].strip() for row in rows] == ['DKS', 'CDS']
    for method in methods:
        result = json.loads((work_dir / method / 'result.json').read_text())
        assert result['train_images'] == 16  # one epoch over the subset
        assert result['test_size'] == 12
        assert result['sec_per_image'] > 0 and result['peak_rss_mib'] > 100
        # Auxiliary modules train but are not needed at test time.
        assert result['params_train'] > result['params_test']
        # The table's top-1 and ECE, recomputed from the saved per-sample outputs.
        samples = np.load(work_dir / method / 'calibration.npz')
        assert samples['confidences'].shape == (12, )
        top1 = 100 * samples['correct'].mean()
        ece = ece_by_hand(samples['confidences'], samples['correct'])
        assert f'| {result["name"]} | {top1:.2f} | {ece:.2f} |' in report
    assert re.search(r'- Command: `python .*compare_methods.py --methods dks cds',
                     report)
    assert '- Machine: ' in report and 'CPU cores' in report
    for png in ('comparison.png', 'reliability.png'):
        assert (work_dir / png).read_bytes()[:4] == b'\x89PNG'


def test_real_cifar10_folders(cifar10_root):
    train = class_counts(cifar10_root, 'train')
    test = class_counts(cifar10_root, 'test')
    assert len(train) == 10 and list(train) == list(test)
    assert sum(train.values()) == 10000 and sum(test.values()) == 10000


def test_distillers_take_the_teacher_checkpoint(tiny_data, tmp_path):
    with pytest.raises(ValueError, match=r"--teacher-checkpoint: \['kd', 'cds_kd'\] "
                       'distil from a teacher'):
        comparison.run_comparison(compare.parse_args(
            ['--methods', 'ce', 'kd', 'cds_kd', '--data-root', tiny_data,
             '--work-dir', str(tmp_path)]), [], 'tools/compare_methods.py')
    with pytest.raises(ValueError, match='--teacher-checkpoint: file not found'):
        comparison.run_comparison(compare.parse_args(
            ['--methods', 'kd', '--data-root', tiny_data, '--teacher-checkpoint',
             str(tmp_path / 'none.pth'), '--work-dir', str(tmp_path)]), [],
            'tools/compare_methods.py')
    teacher = tmp_path / 'teacher.pth'
    teacher.write_bytes(b'')
    args = compare.parse_args(['--methods', 'ce', 'cds_kd', '--data-root', tiny_data,
                               '--teacher-checkpoint', str(teacher)])
    cfg, _ = comparison.build_config(args, 'cds_kd')
    assert cfg.model.teacher_checkpoint == str(teacher)
    assert 'teacher_checkpoint' not in comparison.build_config(args, 'ce')[0].model
    command = comparison.child_command(args, 'cds_kd', 'tools/compare_methods.py')
    assert command[command.index('--teacher-checkpoint') + 1] == str(teacher)
