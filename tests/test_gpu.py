"""The tests that need a CUDA GPU (issue #22, 3-4); they skip elsewhere.

``tools/analysis_tools/gpu_check.sh`` runs this file on a GPU machine: the training
step of every method makes no host synchronisation of ours
(``torch.cuda.set_sync_debug_mode('error')``), ``--amp`` picks bfloat16 without
scaling where the GPU has it, CDS's predict launches exactly CE's kernels under
amp + channels_last, mmcv's CUDA ops agree with its CPU ops, and a detector trains
an iteration on them."""
from contextlib import contextmanager
from copy import deepcopy

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmcds.engine.amp import amp_optim_wrapper, native_bf16

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='needs a CUDA GPU (tools/analysis_tools/'
                                'gpu_check.sh runs these)')

NARROW = {'model.backbone.stem_channels': 8, 'model.backbone.base_channels': 8,
          'model.head.in_channels': 64}


def cuda_model(config, options=NARROW):
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options or {})
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).cuda()


def cuda_batch(two_views, num_images=8, size=32):
    """A collated uint8 batch already on the GPU (the copy is the loader's)."""
    views = [torch.randint(0, 256, (num_images, 3, size, size), dtype=torch.uint8,
                           device='cuda') for _ in range(2)]
    samples = [DataSample().set_gt_label(torch.tensor([i % 3], device='cuda'))
               for i in range(num_images)]
    return dict(inputs=views if two_views else views[0], data_samples=samples)


@contextmanager
def sync_debug(mode):
    torch.cuda.set_sync_debug_mode(mode)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(0)


WRAPPERS = ['OptimWrapper'] + (['BF16AmpOptimWrapper'] if native_bf16() else [])


@pytest.mark.parametrize('method', ['ce', 'dsn', 'dks', 'selfcon', 'cds'])
@pytest.mark.parametrize('wrapper_type', WRAPPERS)
def test_training_step_never_waits_for_the_gpu(method, wrapper_type):
    """Forward, losses, backward and SGD update (BaseModel.train_step after its data
    preprocessor, which is mmpretrain's) under sync debug mode 'error': any
    ``.item()``, ``bool(tensor)``, ``nonzero`` or blocking copy raises."""
    model = cuda_model(f'configs/{method}/resnet18-w16_1xb64_cifar10-jpg.py')
    optim_wrapper = build_optim_wrapper(model, dict(
        type=wrapper_type, optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))

    def step(data):
        with optim_wrapper.optim_context(model):
            losses = model(**data, mode='loss')
        total, _ = model.parse_losses(losses)
        optim_wrapper.update_params(total)

    batch = cuda_batch(two_views=method == 'cds')
    data = model.data_preprocessor(deepcopy(batch), True)
    step(data)  # optimizer state, cuDNN plans
    torch.cuda.synchronize()
    data = model.data_preprocessor(deepcopy(batch), True)
    with sync_debug('error'):
        step(data)
    torch.cuda.synchronize()


def test_amp_on_this_gpu():
    chosen = amp_optim_wrapper('mmpretrain')['type']
    assert chosen == ('BF16AmpOptimWrapper' if native_bf16() else 'AmpOptimWrapper')
    assert amp_optim_wrapper('mmdet')['type'] == 'AmpOptimWrapper'
    if chosen == 'BF16AmpOptimWrapper':
        model = cuda_model('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py')
        wrapper = build_optim_wrapper(model, dict(type=chosen, optimizer=dict(
            type='SGD', lr=0.01)))
        with wrapper.optim_context(model):
            out = model.backbone(torch.randn(2, 3, 32, 32, device='cuda'))
        assert out[-1].dtype == torch.bfloat16 and not hasattr(wrapper, 'loss_scaler')


def kernels_of_predict(model, batch, dtype):
    """The CUDA kernel names, in order, of one ``test_step`` in eval mode under
    autocast (channels-last weights, as ChannelsLastHook leaves them)."""
    from torch.profiler import ProfilerActivity, profile
    model.to(memory_format=torch.channels_last).eval()
    with torch.no_grad(), torch.autocast('cuda', dtype=dtype):
        model.test_step(deepcopy(batch))
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            model.test_step(deepcopy(batch))
            torch.cuda.synchronize()
    return [event.name for event in prof.events()
            if event.device_type.name == 'CUDA']


def test_cds_predict_launches_exactly_the_kernels_of_ce():
    """ResNet-50 ImageNet configs, amp + channels_last: predict of CDS (and DSN) is the
    plain ResNet's, kernel for kernel (the benchmark's 'predict x CE' column times it)."""
    dtype = torch.bfloat16 if native_bf16() else torch.float16
    batch = dict(inputs=torch.randint(0, 256, (8, 3, 224, 224), dtype=torch.uint8),
                 data_samples=[DataSample().set_gt_label(0) for _ in range(8)])
    kernels = {m: kernels_of_predict(
        cuda_model(f'configs/{m}/resnet50_8xb32_in1k.py', options={}), batch, dtype)
        for m in ('ce', 'dsn', 'cds')}
    assert len(kernels['ce']) > 100
    assert kernels['cds'] == kernels['ce']
    assert kernels['dsn'] == kernels['ce']


def test_mmcv_cuda_ops_agree_with_the_cpu_ops():
    from mmcv.ops import RoIAlign, get_compiling_cuda_version, nms
    assert get_compiling_cuda_version() not in ('', 'not available'), \
        'mmcv has no CUDA ops: rebuild with MMCDS_MMCV_CUDA=1 scripts/install.sh'
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(200, 2, generator=generator) * 100
    boxes = torch.cat([corners, corners + 5 + torch.rand(200, 2, generator=generator)
                       * 30], dim=1)
    scores = torch.rand(200, generator=generator)
    _, keep_cpu = nms(boxes, scores, iou_threshold=0.5)
    _, keep_cuda = nms(boxes.cuda(), scores.cuda(), iou_threshold=0.5)
    assert torch.equal(keep_cuda.cpu(), keep_cpu)
    feature = torch.randn(2, 16, 32, 32, generator=generator)
    rois = torch.tensor([[0, 1., 1., 20., 20.], [1, 4., 2., 30., 12.5]])
    roi_align = RoIAlign(output_size=(7, 7), spatial_scale=1.0, sampling_ratio=2,
                         aligned=True)
    torch.testing.assert_close(roi_align(feature.cuda(), rois.cuda()).cpu(),
                               roi_align(feature, rois), rtol=1e-4, atol=1e-5)
