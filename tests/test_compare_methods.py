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
from mmcds.experiments import comparison_report as report  # noqa: E402
from mmcds.experiments import statistics  # noqa: E402
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
        # Top-1 on the test split after every epoch (for the best epoch).
        assert cfg.train_cfg.val_interval == 1
        assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, ))
        assert cfg.val_dataloader.dataset.data_prefix == 'test'
        assert cfg.val_dataloader.dataset.pipeline == cfg.test_dataloader.dataset.pipeline
        assert cfg.test_evaluator[1] == dict(type='ExpectedCalibrationError',
                                             num_bins=10, keep_scores=True)
        assert cfg.randomness.seed == 0
        assert cfg.work_dir == str(tmp_path / method / 'seed0')
        assert 'holdout_dataloader' not in cfg
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.train_dataloader.dataset.indices == [0, 3, 6, 9, 12, 15, 18, 21]
        assert cfg.test_dataloader.dataset.data_prefix == 'test'
        assert cfg.test_dataloader.dataset.get('indices') is None
    cfg, _ = comparison.build_config(compare.parse_args(
        ['--data-root', tiny_data, '--val-interval', '0']), 'ce')
    assert cfg.val_dataloader is None and cfg.val_cfg is None
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


def test_mean_sd_and_paired_difference_on_hand_numbers():
    stats = statistics.mean_sd([1, 2, 3, 4])
    assert stats['mean'] == 2.5 and stats['sd'] == pytest.approx((5 / 3)**0.5)
    assert statistics.mean_sd([7.])['sd'] == 0
    # Differences 2, 1, 3 over the shared seeds 0-2 (seeds 3, 4 of the baseline have
    # no partner): mean 2, sd 1, t(0.975, 2 df) = 4.302653, half width 4.302653 / sqrt 3.
    diff = statistics.paired_difference({0: 52., 1: 50., 2: 51.},
                                        {0: 50., 1: 49., 2: 48., 3: 60., 4: 10.})
    assert diff['n'] == 3 and diff['seeds'] == [0, 1, 2]
    assert diff['mean'] == pytest.approx(2.) and diff['sd'] == pytest.approx(1.)
    assert diff['half_width'] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert (diff['low'], diff['high']) == pytest.approx((2 - 2.484138, 2 + 2.484138),
                                                        rel=1e-6)
    one = statistics.paired_difference({0: 1.}, {0: 0.5})
    assert one['n'] == 1 and one['mean'] == 0.5 and np.isnan(one['half_width'])
    with pytest.raises(ValueError, match='no seed in common'):
        statistics.paired_difference({0: 1.}, {1: 1.})


def test_paired_t_and_holm_against_scipy_and_hand_numbers():
    from scipy import stats
    a, b = [52., 50., 51., 49.5], [50., 49., 48., 49.]
    diff = statistics.paired_difference(dict(enumerate(a)), dict(enumerate(b)))
    assert statistics.paired_t_p_value(diff) == pytest.approx(
        stats.ttest_rel(a, b).pvalue, rel=1e-9)
    # Holm: sorted 0.01, 0.03, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 0.04).
    assert statistics.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx(
        [0.03, 0.06, 0.06])
    # The four comparisons with CE of docs/results.md (paired p of CDS, SelfCon, DKS,
    # DSN): under Holm DKS and DSN no longer pass 0.05.
    assert statistics.holm_adjust([0.0015, 0.0045, 0.035, 0.037]) == pytest.approx(
        [0.006, 0.0135, 0.07, 0.07])
    adjusted = statistics.holm_adjust([float('nan'), 0.02, 0.5])
    assert np.isnan(adjusted[0]) and adjusted[1:] == pytest.approx([0.04, 0.5])
    same = statistics.paired_difference({0: 2., 1: 3.}, {0: 1., 1: 2.})
    assert statistics.paired_t_p_value(same) == 0.


def test_head_to_head_and_holm_in_the_report():
    # CE, CDS and DKS over seeds 0-2: CDS - CE = 2, 1, 3; DKS - CE = 3, 3, 2.5;
    # CDS - DKS = -1, -2, 0.5.
    results = [run_result('ce', 'CE', s, t, 2.) for s, t in enumerate([50, 49, 48])]
    results += [run_result('cds', 'CDS', s, t, 2.) for s, t in enumerate([52, 50, 51])]
    results += [run_result('dks', 'DKS', s, t, 2.)
                for s, t in enumerate([53, 52, 50.5])]
    pairs = report.comparison_pairs(results, [('cds', 'dks'), ('dks', 'nope')])
    assert pairs == [('cds', 'ce'), ('dks', 'ce'), ('cds', 'dks')]
    rows = report.compare_pairs(results, 'top1', pairs)
    p = [statistics.paired_t_p_value(statistics.paired_difference(
        {s: a for s, a in enumerate(x)}, {s: b for s, b in enumerate(y)}))
        for x, y in (([52, 50, 51], [50, 49, 48]), ([53, 52, 50.5], [50, 49, 48]),
                     ([52, 50, 51], [53, 52, 50.5]))]
    assert [r['p'] for r in rows] == pytest.approx(p)
    assert [r['p_holm'] for r in rows] == pytest.approx(statistics.holm_adjust(p))
    assert all(r['family_size'] == 3 for r in rows)
    # The simultaneous interval is the t interval at 1 - 0.05 / 3: wider.
    from scipy import stats
    cds = rows[0]
    half = stats.t.ppf(1 - 0.05 / 6, 2) * cds['sd'] / 3**0.5
    assert (cds['simultaneous_low'], cds['simultaneous_high']) == pytest.approx(
        (2 - half, 2 + half))
    assert cds['simultaneous_high'] - cds['simultaneous_low'] > \
        cds['high'] - cds['low']
    table = report.comparison_table(results, 'top1', 2, [('cds', 'dks')])
    assert '| CDS − DKS | 3 | -0.83 |' in table
    # DKS - CE (3, 3, 2.5): p = 0.0034, Holm x 3 = 0.0103 < 0.05.
    assert '| DKS − CE | 3 | +2.83 |' in table and \
        table.splitlines()[3].endswith('| difference shown (higher) |')


def run_result(method, name, seed, top1, ece, **extra):
    """A result.json as a child writes it (the fields the report reads)."""
    return dict(method=method, name=name, seed=seed, config=f'configs/{method}/x.py',
                top1=top1, ece=ece, nll=1., brier=.5, sec_per_image=0.001 * (seed + 1),
                device='cpu', peak_rss_mib=900., rss_train_start_mib=700.,
                params_train=1.2e6, params_test=1.0e6, train_flops_per_image=72e6,
                test_flops_per_image=35e6, **extra)


def test_tables_over_seeds():
    results = [run_result('ce', 'CE', 0, 50., 2.), run_result('ce', 'CE', 1, 49., 3.),
               run_result('ce', 'CE', 2, 48., 4.),
               run_result('cds', 'CDS', 0, 52., 1.), run_result('cds', 'CDS', 1, 50., 2.),
               run_result('cds', 'CDS', 2, 51., 2.),
               dict(method='dks', name='DKS', seed=0, config='c.py', error='boom')]
    table = report.quality_table(results).splitlines()
    assert table[0].startswith('| Method | Seeds | Top-1 (%) | ECE (%) | NLL | Brier |')
    assert 'after TS' not in table[0]  # no run measured it
    # CDS - CE: top-1 differences 2, 1, 3 (see the test above); ECE -1, -1, -2.
    assert table[3].startswith('| CDS | 3 | 51.00 ± 1.00 | 1.67 ± 0.58 |')
    assert table[3].endswith('| +2.00 [-0.48, +4.48] | -1.33 [-2.77, +0.10] |')
    assert table[2].startswith('| CE | 3 | 49.00 ± 1.00 |')
    assert table[4].startswith('| DKS | seed 0 failed: boom |')
    # The comparison table: differences 2, 1, 3 -> t = 2 / (1 / sqrt 3) = 3.4641 on
    # 2 df, two-sided p = 0.0742 (scipy.stats.ttest_rel below); one comparison, so
    # Holm's p and the simultaneous interval are the plain ones.
    compared = report.comparison_table(results, 'top1', 2).splitlines()
    assert compared[0] == ('| Comparison | Seeds | Δ (mean) | 95% CI | p | Holm p | '
                           'simultaneous 95% CI | at 5% family-wise |')
    assert compared[2] == ('| CDS − CE | 3 | +2.00 | [-0.48, +4.48] | 0.0742 | 0.0742 '
                           '| [-0.48, +4.48] | no difference shown |')
    cost = report.cost_table(results).splitlines()
    # 72 / 35 MFLOPs, mean train time (1, 2, 3 ms) = 2 ms for both: 1.00x CE.
    assert cost[3] == ('| CDS | 72.0 | 35.0 | 1.200 / 1.000 | 2.00 (1.00x) | 200 | '
                       '`configs/cds/x.py` |')
    seeds = report.seed_table(results).splitlines()
    assert seeds[0] == '| Method | seed 0 | seed 1 | seed 2 |'
    assert seeds[3] == '| CDS | 52.00 / 1.00 | 50.00 / 2.00 | 51.00 / 2.00 |'


def test_holdout_split_and_seeds_arguments(tiny_data, tmp_path):
    kept, held = comparison.holdout_split(list(range(24)), 4)
    assert held == [0, 6, 12, 18] and sorted(kept + held) == list(range(24))
    with pytest.raises(ValueError, match='--calibration-holdout 24'):
        comparison.holdout_split(list(range(24)), 24)
    args = compare.parse_args(['--data-root', tiny_data, '--methods', 'ce', 'cds',
                               '--seeds', '3', '4', '--seeds-for', 'cds=4',
                               '--calibration-holdout', '4', '--work-dir',
                               str(tmp_path)])
    assert args.seeds_of == {'ce': [3, 4], 'cds': [4]}
    assert comparison.planned_runs(args) == [('ce', 3), ('ce', 4), ('cds', 4)]
    cfg, _ = comparison.build_config(args, 'cds', 4)
    assert cfg.randomness.seed == 4
    # 24 training images (4 classes x 6), one of every 6 held out: one per class.
    held = cfg.holdout_dataloader.dataset
    assert held.indices == [0, 6, 12, 18] and held.data_prefix == 'train'
    assert held.pipeline == cfg.test_dataloader.dataset.pipeline  # no augmentation
    assert sorted(cfg.train_dataloader.dataset.indices + held.indices) == \
        list(range(24))
    for bad in (['--seeds-for', 'dks=0'], ['--seeds-for', 'ce=x'],
                ['--seeds', '1', '1'], ['--jobs', '0']):
        with pytest.raises(SystemExit):
            compare.parse_args(['--methods', 'ce', *bad])


def conv_and_linear_macs(model, inputs) -> int:
    """Multiply-adds of every Conv2d and Linear called, from forward hooks
    (independent of mmengine.analysis)."""
    import torch
    total = []

    def conv(module, args, output):
        total.append(output.numel() * module.in_channels // module.groups *
                     module.kernel_size[0] * module.kernel_size[1])

    def linear(module, args, output):
        total.append(output.numel() * module.in_features)

    handles = [m.register_forward_hook(conv if isinstance(m, torch.nn.Conv2d) else
                                       linear) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(inputs, mode='tensor')
    for handle in handles:
        handle.remove()
    return sum(total)


def test_flop_counts_of_ce_and_cds(tiny_data, tmp_path):
    import torch
    from mmengine.runner import Runner
    from mmcds.experiments.cost import count_flops

    args = compare.parse_args(['--data-root', tiny_data, '--batch-size', '4',
                               '--num-workers', '0', '--work-dir', str(tmp_path)])
    flops = {}
    for method in ('ce', 'cds'):
        cfg, _ = comparison.build_config(args, method)
        runner = Runner.from_cfg(cfg)
        before = {k: v.clone() for k, v in runner.model.state_dict().items()}
        rng = torch.get_rng_state()
        flops[method] = count_flops(runner)
        # Counting touches neither the model (BN statistics) nor the random state.
        for key, value in runner.model.state_dict().items():
            assert torch.equal(value, before[key]), key
        assert torch.equal(torch.get_rng_state(), rng)
        macs = conv_and_linear_macs(runner.model.eval(), torch.zeros(1, 3, 32, 32))
        # mmengine also counts BatchNorm and pooling: a few % on top.
        assert macs <= flops[method]['test_flops_per_image'] <= 1.05 * macs
    assert flops['ce']['test_flops_per_image'] == flops['cds']['test_flops_per_image']
    # CE's training forward is its inference (+ the loss); CDS's runs two views and
    # four projection heads.
    ce, cds = flops['ce'], flops['cds']
    assert ce['train_flops_per_image'] == pytest.approx(ce['test_flops_per_image'],
                                                        rel=0.03)
    assert 2 * cds['test_flops_per_image'] < cds['train_flops_per_image'] < \
        2.3 * cds['test_flops_per_image']


def test_tiny_end_to_end_run(tiny_data, tmp_path, capsys):
    work_dir = tmp_path / 'compare'
    # One single-view method with auxiliary classifiers and the two-view CDS, two
    # seeds of CDS; the other configs' models are exercised in test_baselines.py.
    code = compare.main(['--methods', 'dks', 'cds', '--seeds', '0', '1',
                         '--seeds-for', 'dks=0', '--data-root', tiny_data,
                         '--epochs', '1', '--batch-size', '8', '--num-workers', '0',
                         '--train-subset', '20', '--calibration-holdout', '4',
                         '--work-dir', str(work_dir)])
    assert code == 0
    printed = capsys.readouterr().out
    # progress: which run (of how many), its epochs and the time left
    assert re.search(r'\[compare\] dks seed 0 \(1/3\): training', printed)
    assert re.search(r'\[compare\] CDS seed 1: epoch 1/1, .* elapsed, ~0 s left',
                     printed)
    report_text = (work_dir / 'results.md').read_text()
    for method, seeds in (('dks', [0]), ('cds', [0, 1])):
        for seed in seeds:
            run = work_dir / method / f'seed{seed}'
            result = json.loads((run / 'result.json').read_text())
            assert result['seed'] == seed
            assert result['train_images'] == 16  # one epoch over 20 - 4 held out
            assert result['holdout_size'] == 4 and result['test_size'] == 12
            assert result['sec_per_image'] > 0 and result['peak_rss_mib'] > 100
            # Auxiliary modules train but are not needed at test time.
            assert result['params_train'] > result['params_test']
            # The table's numbers, recomputed from the saved per-sample outputs
            # (scores and labels) with formulas written here.
            samples = np.load(run / 'calibration.npz')
            scores, labels = samples['scores'], samples['labels']
            assert scores.shape == (12, 4) and labels.tolist() == [0, 0, 0, 1, 1, 1,
                                                                   2, 2, 2, 3, 3, 3]
            correct = scores.argmax(1) == labels
            top1 = 100 * correct.mean()
            ece = ece_by_hand(scores.max(1), correct)
            assert f'{top1:.2f} / {ece:.2f}' in report_text
            nll = -np.log(scores[np.arange(12), labels]).mean()
            assert result['nll'] == pytest.approx(nll, rel=1e-4)
            brier = ((scores - np.eye(4)[labels])**2).sum(1).mean()
            assert result['brier'] == pytest.approx(brier, rel=1e-4)
            # After temperature scaling with the run's T: softmax(log p / T).
            logits = np.log(scores) / result['temperature']
            scaled = np.exp(logits - logits.max(1, keepdims=True))
            scaled /= scaled.sum(1, keepdims=True)
            assert result['ece_ts'] == pytest.approx(
                ece_by_hand(scaled.max(1), scaled.argmax(1) == labels), abs=1e-3)
    cds = [json.loads((work_dir / 'cds' / f'seed{s}' / 'result.json').read_text())
           for s in (0, 1)]
    top1 = np.array([r['top1'] for r in cds])
    # The quality table's CDS row: 2 seeds, mean ± sd (n - 1) computed here.
    assert f'| CDS | 2 | {top1.mean():.2f} ± {top1.std(ddof=1):.2f} |' in report_text
    assert re.search(r'- Command: `python .*compare_methods.py --methods dks cds',
                     report_text)
    assert '- Machine: ' in report_text and 'CPU cores' in report_text
    assert '- Seeds: cds: 0 1; dks: 0' in report_text or \
        '- Seeds: dks: 0; cds: 0 1' in report_text
    for png in ('comparison.png', 'reliability.png'):
        assert (work_dir / png).read_bytes()[:4] == b'\x89PNG'
    # --resume keeps finished runs instead of training them again.
    assert compare.main(['--methods', 'cds', '--seeds', '0', '--data-root', tiny_data,
                         '--epochs', '1', '--batch-size', '8', '--num-workers', '0',
                         '--train-subset', '20', '--calibration-holdout', '4',
                         '--resume', '--no-plot', '--work-dir', str(work_dir)]) == 0
    assert 'kept the result of an earlier run' in capsys.readouterr().out


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
    command = comparison.child_command(args, 'cds_kd', 0, 'tools/compare_methods.py')
    assert command[command.index('--teacher-checkpoint') + 1] == str(teacher)


def _run_children_in_process(monkeypatch):
    """Run each (method, seed) of a comparison in this process, from the very
    command line the parent would start (child_command), to save the ~6 s of
    imports a child process pays; the subprocess path is tested end to end above."""
    def train_here(args, method, seed, script, env, position=''):
        command = comparison.child_command(args, method, seed, script)
        child = compare.parse_args(command[2:])
        comparison.run_one(child)
        result_file = comparison.run_dir(args.work_dir, method, seed) + '/result.json'
        with open(result_file) as f:
            return json.load(f), 0.
    monkeypatch.setattr(comparison, '_train_in_subprocess', train_here)


def test_best_epoch_beside_the_final_and_the_epoch_sweep(tiny_data, tmp_path,
                                                         monkeypatch):
    assert comparison.best_epoch([]) == {}
    assert comparison.best_epoch([(1, {'accuracy/top1': 40.}), (2, {'accuracy/top1':
                                  55.}), (3, {'accuracy/top1': 55.})]) == dict(
        top1_by_epoch=[[1, 40.], [2, 55.], [3, 55.]], best_top1=55., best_epoch=2)
    _run_children_in_process(monkeypatch)
    common = ['--data-root', tiny_data, '--batch-size', '8', '--num-workers', '0',
              '--train-subset', '16', '--no-plot']
    # Validation during training changes nothing in training: the same final
    # scores with and without it.
    assert compare.main(['--methods', 'ce', '--epochs', '2', '--val-interval', '0',
                         '--work-dir', str(tmp_path / 'noval'), *common]) == 0
    assert compare.main(['--methods', 'ce', 'dsn', '--epochs', '2', '1',
                         '--head-to-head', 'dsn:ce', '--work-dir',
                         str(tmp_path / 'sweep'), *common]) == 0
    plain = np.load(tmp_path / 'noval' / 'ce' / 'seed0' / 'calibration.npz')
    run = tmp_path / 'sweep' / 'e2' / 'ce' / 'seed0'
    validated = np.load(run / 'calibration.npz')
    np.testing.assert_array_equal(plain['scores'], validated['scores'])
    result = json.loads((run / 'result.json').read_text())
    assert 'best_top1' not in json.loads(
        (tmp_path / 'noval' / 'ce' / 'seed0' / 'result.json').read_text())
    # One validation per epoch on the test split; the last one is the final model
    # on the same images, so it equals the test top-1.
    assert [epoch for epoch, _ in result['top1_by_epoch']] == [1, 2]
    assert result['top1_by_epoch'][-1][1] == pytest.approx(result['top1'])
    best = max(top1 for _, top1 in result['top1_by_epoch'])
    assert result['best_top1'] == best
    report_text = (tmp_path / 'sweep' / 'e2' / 'results.md').read_text()
    assert 'Best-epoch top-1 (%)' in report_text and '### Best-epoch top-1' in report_text
    # The schedule line says what ran: test top-1 every epoch, not "no validation".
    assert 'top-1 on the test split every 1 epoch(s) during training' in report_text
    assert 'no validation during training' in (
        tmp_path / 'noval' / 'results.md').read_text()
    # dsn:ce is already compared (every method against CE): once per metric table.
    # (top-1 final and best, ECE, NLL)
    assert report_text.count('| DSN − CE | 1 |') == 4
    assert report.comparison_pairs([run_result('ce', 'CE', 0, 1., 1.), run_result(
        'dsn', 'DSN', 0, 1., 1.)], [('ce', 'dsn')]) == [('dsn', 'ce')]
    for epochs in (1, 2):
        assert (tmp_path / 'sweep' / f'e{epochs}' / 'dsn' / 'seed0' /
                'result.json').exists()
    sweep = (tmp_path / 'sweep' / 'sweep.md').read_text()
    dsn = {epochs: json.loads((tmp_path / 'sweep' / f'e{epochs}' / 'dsn' / 'seed0' /
                               'result.json').read_text())['top1'] for epochs in (1, 2)}
    ce = {epochs: json.loads((tmp_path / 'sweep' / f'e{epochs}' / 'ce' / 'seed0' /
                              'result.json').read_text())['top1'] for epochs in (1, 2)}
    for epochs in (1, 2):
        assert (f'| {epochs} | DSN − CE | final | 1 | {dsn[epochs] - ce[epochs]:+.2f} '
                '| one seed |') in sweep
    # --resume refuses results trained otherwise, before anything trains.
    with pytest.raises(ValueError, match=r'--resume: .*e2/ce/seed0/result.json was '
                       r'trained with epochs=2, not 3'):
        compare.main(['--methods', 'ce', '--epochs', '3', '--resume', '--work-dir',
                      str(tmp_path / 'sweep' / 'e2'), *common])
    with pytest.raises(SystemExit):
        compare.parse_args(['--epochs', '6', '6'])
    for bad in (['--head-to-head', 'cds'], ['--head-to-head', 'ce:ce'],
                ['--head-to-head', 'ce:dks'], ['--val-interval', '-1']):
        with pytest.raises(SystemExit):
            compare.parse_args(['--methods', 'ce', 'cds', *bad])
