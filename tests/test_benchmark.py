"""The benchmark tool, its plain-PyTorch CDS reference and the speed switches."""
import math
import os
import os.path as osp
import shutil
from copy import deepcopy
from functools import lru_cache

import pytest
import torch
import torch.nn as nn
from conftest import load_tool
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode

from mmcds.experiments.benchmark import TABLE_COLUMNS, prepare_config
from mmcds.experiments.plain_cds import PlainCDSStep
from mmcds.models.utils import labels_of

CONFIGS = {m: f'configs/{m}/resnet18-w16_1xb64_cifar10-jpg.py'
           for m in ('ce', 'dsn', 'dks', 'selfcon', 'cds')}
# Width 8 instead of 16: the same structure at a quarter of the cost.
NARROW = {'model.backbone.stem_channels': 8, 'model.backbone.base_channels': 8,
          'model.head.in_channels': 64}
SGD = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4)


@lru_cache()
def narrow_model_cfg(method: str) -> Config:
    cfg = Config.fromfile(CONFIGS[method])
    cfg.merge_from_dict(NARROW)
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    return cfg.model


def narrow_model(method: str) -> nn.Module:
    torch.manual_seed(0)
    return MODELS.build(deepcopy(narrow_model_cfg(method)))


@pytest.fixture(scope='module')
def small_cifar10(tmp_path_factory):
    """Two JPEGs of every class of each split of the real CIFAR-10 folders, copied
    as they are (the loader scans a few files instead of 12 000)."""
    from conftest import shared_data
    source = shared_data('cifar10')
    root = tmp_path_factory.mktemp('cifar10')
    for split in ('train', 'test'):
        for name in sorted(os.listdir(osp.join(source, split))):
            os.makedirs(root / split / name)
            for image in sorted(os.listdir(osp.join(source, split, name)))[:2]:
                shutil.copy(osp.join(source, split, name, image), root / split / name)
    return str(root)


def two_view_batch(num_images=6, size=32, seed=0):
    """A default_collate'd two-view batch: uint8 BGR views and labelled samples
    (labels repeat, so SupCon has same-class positives across images)."""
    generator = torch.Generator().manual_seed(seed)
    views = [torch.randint(0, 256, (num_images, 3, size, size), generator=generator,
                           dtype=torch.uint8) for _ in range(2)]
    labels = torch.tensor([i % 3 for i in range(num_images)])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=views, data_samples=samples), labels


def test_tool_prints_the_table_end_to_end(small_cifar10, tmp_path, capsys):
    """CE and CDS from their own configs (real CIFAR-10 JPEGs, the config's
    loader) beside the plain reference: every row and column, finite positive times."""
    tool = load_tool('analysis_tools/benchmark')
    options = [f'{k}={v}' for k, v in NARROW.items()]
    text = tool.main([
        CONFIGS['ce'], CONFIGS['cds'], '--data-root', small_cifar10, '--batch-size', '4', '--num-workers', '0',
        '--warmup', '1', '--steps', '1', '--rounds', '2', '--predict-steps', '1',
        '--work-dir', str(tmp_path), '--out', str(tmp_path / 'table.md'),
        '--cfg-options', *options])
    assert text in capsys.readouterr().out
    assert (tmp_path / 'table.md').read_text().strip() == text.strip()
    lines = [line for line in text.splitlines() if line.startswith('|')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    assert header == list(TABLE_COLUMNS)
    rows = {cells[0]: dict(zip(header, cells)) for cells in (
        [c.strip() for c in line.strip('|').split('|')] for line in lines[2:])}
    assert list(rows) == ['CE eager', 'CDS eager', 'plain CDS eager']

    def number(cell):
        value = float(cell.split()[0])
        assert math.isfinite(value), cell
        return value

    for name, row in rows.items():
        for column in ('step ms', 'data ms', 'train img/s', 'x CE'):
            assert number(row[column]) > 0, (name, column, row[column])
        assert number(row['peak mem MiB']) >= 0
    assert rows['CE eager']['x CE'].startswith('1.00')
    assert rows['plain CDS eager']['x plain CDS'].startswith('1.00')
    assert number(rows['CDS eager']['x plain CDS']) > 0
    assert rows['CE eager']['x plain CDS'] == '-'
    for name in ('CE eager', 'CDS eager'):
        assert number(rows[name]['predict ms']) > 0
        assert number(rows[name]['predict img/s']) > 0
    assert number(rows['CDS eager']['predict x CE']) > 0
    assert rows['plain CDS eager']['predict ms'] == '-'


def test_plain_reference_step_equals_cds_classifier():
    """Same weights, same batch: the plain step's loss terms equal CDSClassifier's,
    and one SGD step through mmengine's train_step leaves the same weights."""
    model = narrow_model('cds')
    batch, labels = two_view_batch()
    reference = deepcopy(model)
    plain = PlainCDSStep(reference, dict(SGD, _scope_='mmpretrain'))

    data = model.data_preprocessor(deepcopy(batch), True)
    ours = model.loss(data['inputs'], data['data_samples'])
    total, terms = plain.losses(batch['inputs'], labels)
    assert sorted(terms) == sorted(ours)
    for key, value in ours.items():
        torch.testing.assert_close(terms[key], value, rtol=1e-5, atol=1e-6, msg=key)

    model.zero_grad()
    optim_wrapper = build_optim_wrapper(model, dict(optimizer=SGD))
    model.train_step(deepcopy(batch), optim_wrapper)
    plain(batch['inputs'], labels)
    reference_state = reference.state_dict()
    for name, value in model.state_dict().items():
        torch.testing.assert_close(reference_state[name], value, rtol=1e-4, atol=1e-6,
                                   msg=name)


def test_plain_reference_refuses_what_it_does_not_compute():
    model = narrow_model('cds')
    model.cds_loss.base_temperature = 0.07
    with pytest.raises(ValueError, match='PlainCDSStep.model.cds_loss'):
        PlainCDSStep(model, SGD)


def called_modules(model: nn.Module, inputs: torch.Tensor):
    """Names of the modules that run (forward hooks) in ``predict`` mode."""
    called = []
    handles = [module.register_forward_hook(
        lambda module, args, out, name=name: called.append(name))
        for name, module in model.named_modules() if name]
    model.eval()
    with torch.no_grad():
        model(inputs, mode='predict')
    for handle in handles:
        handle.remove()
    return called


@pytest.mark.parametrize('method', ['cds', 'dsn', 'dks', 'selfcon'])
def test_predict_runs_the_plain_resnet_only(method):
    """In predict mode a multi-exit model calls exactly the modules the plain
    ResNet (the CE config's model) calls, in the same order: no projection head and
    no exit runs."""
    inputs = torch.randn(2, 3, 32, 32)
    plain = called_modules(narrow_model('ce'), inputs)
    ours = called_modules(narrow_model(method), inputs)
    assert not [n for n in ours if n.split('.')[0] in ('cds_neck', 'exits',
                                                       'exit_heads')]
    assert len(plain) > 50  # every conv/bn/relu of the ResNet-18 is seen
    assert ours == plain


class CountOps(TorchDispatchMode):
    """Counts the aten operators dispatched inside the block."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def test_cds_losses_have_no_python_loop_over_samples():
    """The contrastive terms of all stages (labels read off the data samples, then
    ContrastiveDSLoss per stage): the same operators for 4 and for 32 images, so
    nothing runs once per image; and no per-sample host read of a label."""
    model = narrow_model('cds')

    def ops(num_images):
        embeddings = [nn.functional.normalize(torch.randn(num_images, 2, 64), dim=2)
                      for _ in model.cds_stages]
        samples = [DataSample().set_gt_label(i % 3) for i in range(num_images)]
        with CountOps() as counter:
            model.contrastive_losses(embeddings, samples)
        return counter.ops

    small, large = ops(4), ops(32)
    assert len(small) == len(large) and sorted(small) == sorted(large)
    assert 'aten._local_scalar_dense' not in large  # no int() / .item() per sample
    with CountOps() as counter:
        labels = labels_of([DataSample().set_gt_label(i) for i in range(16)], 'cpu', 'x')
    assert labels.tolist() == list(range(16))
    assert 'aten._local_scalar_dense' not in counter.ops


def test_labels_of_marks_unlabelled_images():
    samples = [DataSample().set_gt_label(2), DataSample(), DataSample().set_gt_label(0)]
    assert labels_of(samples, 'cpu', 'x').tolist() == [2, -1, 0]
    assert labels_of([DataSample(), DataSample()], 'cpu', 'x').tolist() == [-1, -1]
    with pytest.raises(ValueError, match=r'data_samples\[0\].gt_label has 2 labels'):
        labels_of([DataSample().set_gt_label([1, 2])], 'cpu', 'x')


@pytest.mark.parametrize('method', ['ce', 'cds'])
def test_channels_last_hook_on_the_runner(method, small_cifar10, tmp_path):
    """``custom_hooks=[dict(type='ChannelsLastHook')]`` as a user sets it: after
    ``before_train`` every conv weight is channels-last, convolutions return NHWC, and
    the losses equal the eager model's on the same batch."""
    cfg = prepare_config(CONFIGS[method], dict(NARROW), data_root=small_cifar10, batch_size=4, num_workers=0,
                         work_dir=str(tmp_path))
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='ChannelsLastHook')]
    runner = Runner.from_cfg(cfg)
    eager = deepcopy(runner.model)
    runner.call_hook('before_train')
    model = runner.model
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(
        m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert not all(m.weight.is_contiguous() for m in convs if m.kernel_size != (1, 1))
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(deepcopy(batch), True)
    stem = model.backbone(data['inputs'][0] if method == 'cds' else data['inputs'])[0]
    assert stem.is_contiguous(memory_format=torch.channels_last)
    ours = model(**model.data_preprocessor(deepcopy(batch), True), mode='loss')
    theirs = eager(**eager.data_preprocessor(deepcopy(batch), True), mode='loss')
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-5,
                                   msg=key)


@pytest.mark.parametrize('labelled', [True, False])
def test_stacked_stages_equal_one_call_per_stage(labelled):
    """ContrastiveDSLoss on (S, N, V, D) gives each stage's loss and gradient as S
    separate calls do (unlabelled images included), and CDSClassifier's terms are
    those per-stage losses."""
    from mmcds.models.losses import ContrastiveDSLoss
    generator = torch.Generator().manual_seed(3)
    stages = nn.functional.normalize(torch.randn(4, 6, 2, 16, generator=generator),
                                     dim=-1)
    labels = torch.tensor([0, 1, 0, 2, 1, 0] if labelled else [0, -1, 0, -1, 2, 2])
    loss = ContrastiveDSLoss()
    stacked = stages.clone().requires_grad_()
    separate = stages.clone().requires_grad_()
    together = loss(stacked, labels)
    one_by_one = torch.stack([loss(z, labels) for z in separate])
    assert together.shape == (4, )
    torch.testing.assert_close(together, one_by_one)
    together.sum().backward()
    one_by_one.sum().backward()
    torch.testing.assert_close(stacked.grad, separate.grad)

    model = narrow_model('cds')
    samples = [DataSample() if y < 0 else DataSample().set_gt_label(int(y))
               for y in labels]
    terms = model.contrastive_losses(list(stages), samples)
    assert list(terms) == [f'loss_cds_stage{k}' for k in (1, 2, 3, 4)]
    torch.testing.assert_close(torch.stack(list(terms.values())), one_by_one.detach())


# ---------------------------------------------------------------- issue #22, 3
def test_compile_modes_reach_the_config_and_the_reference():
    from mmcds.experiments.benchmark_config import (apply_switch, compile_options,
                                                    parse_switch)
    assert parse_switch('amp+compile=reduce-overhead') == ('amp',
                                                           'compile=reduce-overhead')
    with pytest.raises(ValueError, match="'fastest' is no torch.compile mode"):
        parse_switch('compile=fastest')
    with pytest.raises(ValueError, match='compiles twice'):
        parse_switch('compile+compile=max-autotune')
    with pytest.raises(ValueError, match="unknown switch 'amp=bf16'"):
        parse_switch('amp=bf16')
    cfg = Config(dict(compile=dict(dynamic=False)))
    apply_switch(cfg, parse_switch('compile=reduce-overhead'))
    assert cfg.compile == dict(dynamic=False, mode='reduce-overhead')
    cfg = Config(dict())
    apply_switch(cfg, ('compile', ))
    assert cfg.compile is True  # mmengine's default torch.compile
    apply_switch(cfg, ('compile', ), compile_backend='eager')
    assert cfg.compile == dict(backend='eager')
    assert compile_options(('amp', ), 'eager') is None


def test_compile_switch_compiles_train_step_and_reference_with_the_mode(
        small_cifar10, tmp_path, monkeypatch):
    """What torch.compile is called with for a compile=<mode> row: the runner's
    train_step (through mmengine's `compile` setting) and the plain CDS step."""
    from mmcds.experiments import benchmark
    calls = []

    def recording_compile(function, **options):
        calls.append((getattr(function, '__name__', type(function).__name__), options))
        return function

    monkeypatch.setattr(torch, 'compile', recording_compile)
    cfg = prepare_config(CONFIGS['cds'], dict(NARROW), data_root=small_cifar10,
                         batch_size=4, num_workers=0, work_dir=str(tmp_path))
    rows = benchmark.build_rows({'CDS': cfg}, [('compile=max-autotune', )],
                                compile_backend='eager')
    assert [row.label for row in rows] == ['CDS compile=max-autotune',
                                           'plain CDS compile=max-autotune']
    assert calls == [('train_step', dict(mode='max-autotune', backend='eager')),
                     ('losses', dict(mode='max-autotune', backend='eager'))]


@pytest.mark.parametrize('config', ['configs/cds/resnet50_8xb32_in1k.py',
                                    'configs/cds/resnet18_1xb128_cifar100.py'])
def test_imagenet_and_cifar100_configs_read_class_folders(config, small_cifar10,
                                                          tmp_path):
    """--data-root turns ImageNet's and CIFAR-100's data sets into class-folder
    CustomDatasets (CIFAR's pipeline, made for decoded arrays, gets a loader)."""
    from mmpretrain.registry import DATASETS
    cfg = prepare_config(config, data_root=small_cifar10, batch_size=2,
                         work_dir=str(tmp_path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'CustomDataset' and 'split' not in dataset
        assert dataset.pipeline[0]['type'] == 'LoadImageFromFile'
        assert [step['type'] for step in dataset.pipeline].count(
            'LoadImageFromFile') == 1
    assert cfg.val_dataloader.persistent_workers is False
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) == 20 and len(train.metainfo['classes']) == 10
    views = train[0]['inputs']
    assert len(views) == 2 and views[0].shape[0] == 3  # CDS: two views of one image


def test_predictions_are_timed_after_training_with_the_collector_held(monkeypatch):
    """run_rounds: every timed training step before the first timed prediction
    (right after its own steps a row's loader workers refill their queue, on the CPU
    that launches the prediction), gc off while timing, rows rotated."""
    import gc

    from mmcds.experiments import benchmark
    events = []

    class StubRow(benchmark.Row):
        def __init__(self, label):
            super().__init__(label, label, ())
            self.device = torch.device('cpu')
            self.predict_batch_size = 2

        def train_step(self):
            events.append(('train', self.label, gc.isenabled()))
            return 0.0, 0.001

        def predict(self):
            events.append(('predict', self.label, gc.isenabled()))
            return 0.001

    rows = [StubRow('a'), StubRow('b')]
    benchmark.run_rounds(rows, warmup=1, steps=2, rounds=2, predict_steps=1)
    timed = events[4:]  # after the warm-up (a train + predict per row)
    kinds = [kind for kind, _, _ in timed]
    last_train = len(kinds) - 1 - kinds[::-1].index('train')
    untimed_predicts = 2
    assert kinds[:8] == ['train'] * 8 and last_train == 7
    assert kinds[8:] == ['predict'] * (untimed_predicts + 4)
    timed_predicts = timed[8 + untimed_predicts:]
    assert [label for _, label, _ in timed_predicts] == ['a', 'b', 'b', 'a']
    assert not any(enabled for _, _, enabled in timed[:8] + timed_predicts)
    assert gc.isenabled()


def ops_of_predict(model, switch):
    """The aten operators of one predict-mode ``test_step`` with their dtypes and
    memory formats, under the benchmark's autocast and ChannelsLastHook."""
    from types import SimpleNamespace

    from mmcds.engine import ChannelsLastHook
    if 'channels_last' in switch:
        ChannelsLastHook.convert(SimpleNamespace(model=model))
    model.eval()
    batch = dict(inputs=torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8),
                 data_samples=[DataSample().set_gt_label(1) for _ in range(2)])

    def describe(x):
        if not isinstance(x, torch.Tensor):
            return ''
        nhwc = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
            and not x.is_contiguous()
        return f'{x.dtype}{tuple(x.shape)}{"nhwc" if nhwc else ""}'

    class Ops(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.ops.append((str(func), tuple(describe(a) for a in args), describe(out)))
            return out

    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16,
                                         enabled='amp' in switch):
        with Ops() as ops:
            model.test_step(deepcopy(batch))
    return ops.ops


@pytest.mark.parametrize('switch', [(), ('amp', ), ('channels_last', ),
                                    ('amp', 'channels_last')])
def test_predict_runs_ce_operators_in_ce_dtypes_and_layouts(switch):
    """Every multi-exit method's predict is CE's operator for operator, with the
    same dtypes (autocast) and memory formats (ChannelsLastHook), under each switch."""
    reference = ops_of_predict(narrow_model('ce'), switch)
    assert len(reference) > 50
    if 'amp' in switch:
        assert any('bfloat16' in out for _, _, out in reference)
    if 'channels_last' in switch:
        assert any('nhwc' in out for _, _, out in reference)
    for method in ('dsn', 'dks', 'selfcon', 'cds'):
        assert ops_of_predict(narrow_model(method), switch) == reference, method
