"""A training step that never waits for the device (issue #22, 3).

On CUDA every read of a tensor's value on the host (``.item()``, ``bool()``,
``int()``, ``.tolist()``, ``.cpu()``, printing) and every operator whose output size
depends on values (``nonzero``, boolean indexing, ``masked_select``, ``unique``)
waits until the GPU has run everything queued before it, so the CPU cannot run
ahead launching the next kernels. This machine has no GPU; :class:`HostReads` finds
the same calls on the CPU (the operators through a dispatch mode, the Python-level
reads by wrapping the methods), and the step of every method's model, built from its
shipped config, must make none. ``tests/test_gpu.py`` checks the same on CUDA with
``torch.cuda.set_sync_debug_mode('error')``."""
import traceback
from copy import deepcopy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode

# Operators that read values on the host, or whose output size depends on them.
VALUE_OPS = {'_local_scalar_dense', 'is_nonzero', 'nonzero', 'masked_select',
             'unique', '_unique', '_unique2', 'unique_consecutive', 'unique_dim',
             'equal'}
# Tensor methods that hand values to Python without an operator on the CPU.
HOST_METHODS = ('tolist', 'numpy', 'cpu', '__repr__', '__format__')
CONFIGS = {m: f'configs/{m}/resnet18-w16_1xb64_cifar10-jpg.py'
           for m in ('ce', 'dsn', 'dks', 'selfcon', 'cds')}
NARROW = {'model.backbone.stem_channels': 8, 'model.backbone.base_channels': 8,
          'model.head.in_channels': 64}


class HostReads(TorchDispatchMode):
    """Records every host read of tensor values inside the block, with the
    innermost frames outside torch (where in our code, or mmengine's, it happened).
    Boolean-mask indexing counts (it runs ``nonzero``), as does
    ``repeat_interleave`` with a tensor of repeats and no ``output_size``."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.reads = []
        for name in HOST_METHODS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._recorded(name, original))

    def _where(self):
        frames = [f for f in traceback.extract_stack()
                  if '/torch/' not in f.filename and not (
                      f.filename == __file__
                      and f.name in ('_where', 'method', '__torch_dispatch__'))]
        return [f'{f.filename.rsplit("/", 2)[-2]}/{f.filename.rsplit("/", 1)[-1]}:'
                f'{f.lineno}' for f in frames[-3:]]

    def _recorded(self, name, original):
        def method(tensor, *args, **kwargs):
            if self.active:
                self.reads.append((name, self._where()))
            return original(tensor, *args, **kwargs)
        return method

    active = False

    def __enter__(self):
        self.active = True
        return super().__enter__()

    def __exit__(self, *exc):
        self.active = False
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        kwargs = kwargs or {}
        mask_index = name.startswith('index') and len(args) > 1 and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for i in (args[1] or ()))
        repeats = kwargs.get('repeats', args[-1] if args else None)
        value_sized = name == 'repeat_interleave' and isinstance(
            repeats, torch.Tensor) and kwargs.get('output_size') is None
        if name in VALUE_OPS or mask_index or value_sized:
            self.reads.append((name, self._where()))
        return func(*args, **kwargs)


def tiny_model(method):
    cfg = Config.fromfile(CONFIGS[method])
    cfg.merge_from_dict(NARROW)
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def batch(method, labels, size=32):
    """A default_collate'd uint8 batch (two views for CDS) of these labels."""
    generator = torch.Generator().manual_seed(0)
    views = [torch.randint(0, 256, (len(labels), 3, size, size), generator=generator,
                           dtype=torch.uint8) for _ in range(2)]
    samples = [DataSample().set_gt_label(y) for y in labels]
    return dict(inputs=views if method == 'cds' else views[0], data_samples=samples)


def reads_of_a_train_step(method, data, wrapper_type, monkeypatch):
    """The host reads of the second ``train_step`` (the first one made the optimizer
    state) of the method's model under an optimizer wrapper."""
    model = tiny_model(method)
    optim_wrapper = build_optim_wrapper(model, dict(
        type=wrapper_type, optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    model.train_step(deepcopy(data), optim_wrapper)
    reads = HostReads(monkeypatch)
    with reads:
        model.train_step(deepcopy(data), optim_wrapper)
    return reads.reads


@pytest.mark.parametrize('method', list(CONFIGS))
@pytest.mark.parametrize('wrapper_type', ['OptimWrapper', 'BF16AmpOptimWrapper'])
def test_train_step_reads_nothing_on_the_host(method, wrapper_type, monkeypatch):
    data = batch(method, [0, 1, 2, 0, 1, 2])
    reads = reads_of_a_train_step(method, data, wrapper_type, monkeypatch)
    assert reads == [], f'{method}: {reads}'


def test_semi_supervised_cds_step_reads_nothing_on_the_host(monkeypatch):
    """CE on the labelled images only (label -1 marks the others, as
    SemiSupervisedDataset gives them) without reading which ones they are."""
    data = batch('cds', [0, -1, 2, -1, 1, -1])
    assert reads_of_a_train_step('cds', data, 'OptimWrapper', monkeypatch) == []


def test_host_reads_are_found(monkeypatch):
    """The finder itself: each kind of read it claims to see, once."""
    x = torch.arange(6.)
    reads = HostReads(monkeypatch)
    with reads:
        bool(x.sum() > 0), x.max().item(), int(x[0]), x.tolist(), x.cpu(), f'{x}'
        x[x > 2], x.nonzero(), torch.repeat_interleave(x, torch.ones(6, dtype=torch.long))
        x.unique()
    names = [name for name, _ in reads.reads]
    for name in ('_local_scalar_dense', 'tolist', 'cpu', '__format__', 'index',
                 'nonzero', 'repeat_interleave'):
        assert name in names, (name, names)
    assert any(name.startswith('_unique') or name == 'unique' for name in names)
    assert all(where[-1].startswith('tests/test_host_sync.py:')
               for _, where in reads.reads)


@pytest.mark.parametrize('labels', [[0, 1, 2, 0, 1, 2], [0, -1, 2, -1, 1, -1],
                                    [-1] * 6])
def test_weighted_head_loss_is_the_mean_over_the_labelled_images(labels):
    """CDS's sync-free CE (per-image weights) against the head's loss on the labelled
    images cut out of the batch: equal; bit for bit the plain head loss when all are
    labelled; 0 with a connected graph when none is."""
    model = tiny_model('cds')
    neck_out = (torch.randn(6, 64, requires_grad=True), )
    samples = [DataSample().set_gt_label(y) for y in labels]
    targets = torch.tensor(labels)
    ours = model.labelled_head_loss(neck_out, samples, targets)['loss']
    labelled = [i for i, y in enumerate(labels) if y >= 0]
    if len(labelled) == len(labels):
        assert torch.equal(ours, model.head.loss(neck_out, samples)['loss'])
    elif labelled:
        cut = model.head.loss((neck_out[0][labelled], ),
                              [samples[i] for i in labelled])['loss']
        torch.testing.assert_close(ours, cut)
    else:
        assert ours.item() == 0
    ours.backward()
    assert neck_out[0].grad is not None
    assert model.head_loss_takes_weight


def test_training_accuracy_of_a_semi_supervised_batch_counts_labelled_images_only():
    """cal_acc=True: the head's logged training accuracy is over the labelled images.
    In the weighted batch the unlabelled ones carry target 0 and would count as
    correct wherever the model predicts class 0."""
    model = tiny_model('cds')
    model.head.cal_acc = True
    logits = torch.full((6, 64), 0.)
    neck_out = (logits, )
    labels = [0, -1, 2, -1, 1, -1]
    # The head's fc maps 64 -> 10 classes; make it predict class 0 for every image.
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.bias.zero_()
        model.head.fc.bias[0] = 1.
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = model.labelled_head_loss(neck_out, samples, torch.tensor(labels))
    # labelled: 0, 2, 1 -> one of three predicted right (class 0); not 4 of 6
    torch.testing.assert_close(torch.as_tensor(losses['accuracy_top-1']).flatten(),
                               torch.tensor([100 / 3]))
    assert not model.head_loss_takes_weight


def test_non_finite_loss_check_reads_the_host_once_per_step(monkeypatch):
    """NonFiniteLossHook stops a run before the optimizer step, so it must read the
    loss on the host between forward and backward; once per step, not once per term
    (CDS logs five loss terms)."""
    from mmcds.engine.hooks.non_finite_loss_hook import NonFiniteLossHook
    terms = {f'loss_cds_stage{k}': torch.tensor(0.5 * k) for k in range(1, 5)}
    terms.update(loss_cls=torch.tensor(2.3), accuracy=torch.tensor(50.))
    total = sum(v for k, v in terms.items() if 'loss' in k)
    reads = HostReads(monkeypatch)
    with reads:
        assert NonFiniteLossHook._bad_terms(terms, total) == []
    assert len(reads.reads) == 1, reads.reads
    terms['loss_cds_stage3'] = torch.tensor(float('nan'))
    assert NonFiniteLossHook._bad_terms(terms, total + terms['loss_cds_stage3']) == [
        'loss_cds_stage3 = nan']
