"""The installed stack: versions, compiled mmcv ops, registries, config scopes; what
`pip install` changes in an environment that has torch (issue #22, 1)."""
import argparse
import os
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.config import Config

import mmcds
from conftest import REPO_ROOT, load_tool, venv_seeing_this_environment
from mmcds.utils.environment import TORCH_RANGE, release, torch_problem, torchvision_for


def requirement_lines(name):
    """The requirement lines of requirements/<name>.txt, as setup.py reads them."""
    namespace = {}
    with open(osp.join(REPO_ROOT, 'setup.py')) as f:
        source = f.read()
    exec(source[:source.index('setup(')], namespace)  # the helpers, not setup()
    return namespace['parse_requirements'](osp.join(REPO_ROOT, 'requirements',
                                                    f'{name}.txt'))


def test_versions():
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    # torch is the environment's (pinned in requirements/torch.txt where the installer
    # created the environment): any release of the supported range
    assert torch_problem(torch.__version__) is None
    assert (mmengine.__version__, mmcv.__version__, mmpretrain.__version__,
            mmdet.__version__) == ('0.10.7', '2.1.0', '1.2.0', '3.3.0')
    assert mmcds.__version__ == '0.1.0'


def test_torch_is_pinned_for_the_installer_only():
    """install_requires names no torch (a user's CUDA build stays); the installer's
    pinned pair is inside the range import mmcds accepts, and torchvision is the
    release of that torch."""
    runtime = requirement_lines('runtime')
    assert not [line for line in runtime
                if line.split('=')[0].split('<')[0].split('>')[0].strip()
                in ('torch', 'torchvision')], runtime
    pinned = dict(line.split('==') for line in requirement_lines('torch'))
    assert set(pinned) == {'torch', 'torchvision'}
    assert torch_problem(pinned['torch']) is None
    assert pinned['torchvision'] == torchvision_for(pinned['torch'])
    assert release(pinned['torch'])[:2] < TORCH_RANGE[1]


def test_editable_install_keeps_the_installed_torch(tmp_path):
    """`pip install -e .` (dependencies resolved, no index) into an environment that
    sees this one's packages, torch among them: nothing but mmcds is installed, the
    torch it imports is the same file, and mmcds comes from this checkout."""
    python, _ = venv_seeing_this_environment(tmp_path)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.pop('PYTHONPATH', None)
    out = subprocess.run([python, '-m', 'pip', 'install', '--no-index',
                          '--no-build-isolation', '-e', REPO_ROOT],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert 'Successfully installed mmcds-' in out.stdout
    installed = out.stdout.split('Successfully installed')[-1].split()
    assert installed == [f'mmcds-{mmcds.__version__}'], installed
    check = subprocess.run([python, '-c', 'import torch, mmcds; print(torch.__file__); '
                            'print(torch.__version__); print(mmcds.__file__)'],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path),
                           timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    assert check.stdout.split() == [torch.__file__, torch.__version__,
                                    osp.join(REPO_ROOT, 'mmcds', '__init__.py')]


def test_compiled_nms_and_roi_align():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    dets, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    # A constant feature map pools to the constant; a ramp pools to the box centre.
    feature = torch.arange(16.).view(1, 1, 4, 4)
    roi_align = RoIAlign(output_size=(1, 1), spatial_scale=1.0, sampling_ratio=2,
                         aligned=True)
    pooled = roi_align(feature, torch.tensor([[0., 0., 0., 4., 4.]]))
    assert pooled.shape == (1, 1, 1, 1)
    # box (0,0)-(4,4) with aligned=True: centre (1.5, 1.5) in pixel-index space
    assert pooled.item() == pytest.approx(1.5 * 4 + 1.5)


def test_modules_are_registered_in_mmpretrain():
    from mmpretrain.registry import MODELS
    for name in ('CDSClassifier', 'CDSNeck', 'ContrastiveDSLoss',
                 'MultiViewClsDataPreprocessor'):
        assert MODELS.get(name) is not None, name
        assert MODELS.get(name).__module__.startswith('mmcds.'), name




def train_args(config, **overrides):
    args = dict(config=config, work_dir=None, resume=None, amp=False, no_validate=False,
                auto_scale_lr=False, no_pin_memory=False, no_persistent_workers=False,
                cfg_options=None, launcher='none')
    args.update(overrides)
    return argparse.Namespace(**args)


@pytest.mark.parametrize('config, scope, collate', [
    ('configs/cds/resnet18_8xb32_in1k.py', 'mmpretrain', 'default_collate'),
    ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'mmdet', None),
])
def test_configs_of_both_scopes_load_through_train_tool(tmp_path, config, scope, collate):
    if config.startswith('mmdet::'):
        # a user config that inherits an mmdet config through the package scope
        path = osp.join(tmp_path, 'user_det.py')
        with open(path, 'w') as f:
            f.write(f"_base_ = '{config}'\nmodel = dict(bbox_head=dict(num_classes=3))\n")
        config = path
    train = load_tool('train')
    cfg = train.merge_args(Config.fromfile(config), train_args(
        config, cfg_options={'train_dataloader.batch_size': 3}))
    assert cfg.default_scope == scope
    assert cfg.train_dataloader.batch_size == 3
    assert cfg.train_dataloader.get('collate_fn', {}).get('type') == collate
    assert cfg.work_dir == osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if scope == 'mmdet':
        assert cfg.model.bbox_head.num_classes == 3
        assert cfg.model.backbone.depth == 50


def test_amp_flag_picks_a_wrapper_that_runs_here():
    train = load_tool('train')
    cfg = train.merge_args(Config.fromfile('configs/cds/resnet18_8xb32_in1k.py'),
                           train_args('x.py', amp=True))
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else 'CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.type == expected


@pytest.mark.parametrize('wrapper_type', ['CPUAmpOptimWrapper', 'BF16AmpOptimWrapper'])
def test_bf16_wrappers_autocast_without_scaling(wrapper_type):
    from mmengine.registry import OPTIM_WRAPPERS
    layer = torch.nn.Linear(4, 4)
    wrapper = OPTIM_WRAPPERS.build(dict(
        type=wrapper_type, optimizer=torch.optim.SGD(layer.parameters(), lr=0.1)))
    assert not hasattr(wrapper, 'loss_scaler')
    before = layer.weight.detach().clone()
    with wrapper.optim_context(layer):
        out = layer(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16  # autocast on the layer's device (the CPU here)
    wrapper.update_params(out.float().sum())
    # The step updated the float32 master weights (no loss scaling in between).
    assert layer.weight.dtype == torch.float32 and layer.weight.grad is None
    assert not torch.equal(layer.weight, before)
    with pytest.raises(ValueError, match=f'{wrapper_type}.dtype: only "bfloat16"'):
        OPTIM_WRAPPERS.build(dict(type=wrapper_type, dtype='float16',
                                  optimizer=torch.optim.SGD(layer.parameters(), lr=0.1)))


@pytest.mark.parametrize('scope, cuda, bf16, dtype, expected', [
    ('mmpretrain', False, False, None, 'CPUAmpOptimWrapper'),
    ('mmpretrain', True, True, None, 'BF16AmpOptimWrapper'),   # A100/H100/H200
    ('mmpretrain', True, False, None, 'AmpOptimWrapper'),      # V100, T4: fp16 + scaling
    ('mmdet', True, True, None, 'AmpOptimWrapper'),            # mmcv's CUDA ops: fp16
    ('mmpretrain', True, True, 'float16', 'AmpOptimWrapper'),  # the config asks for fp16
])
def test_amp_choice(scope, cuda, bf16, dtype, expected):
    from mmcds.engine.amp import amp_optim_wrapper
    chosen = amp_optim_wrapper(scope, cuda=cuda, bf16=bf16, dtype=dtype)
    assert chosen['type'] == expected
    assert chosen.get('loss_scale') == ('dynamic' if expected == 'AmpOptimWrapper'
                                        else None)


def test_amp_refuses_a_detector_on_the_cpu():
    """bfloat16 (the CPU's autocast type) reaches mmcv's CPU NMS, which takes float32
    only: one line at start instead of a crash in the first iteration."""
    from mmcds.engine.amp import amp_optim_wrapper
    with pytest.raises(SystemExit, match='--amp: a detector cannot train under '
                       'autocast on the CPU') as stop:
        amp_optim_wrapper('mmdet', cuda=False)
    assert '\n' not in str(stop.value)


def test_amp_drops_loss_scaling_for_the_bf16_wrappers(monkeypatch):
    """A loss_scale in the config stays for fp16 scaling and goes where nothing scales
    (the bf16 wrappers would refuse the argument)."""
    from mmcds.engine import amp
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', loss_scale=512.,
                                         optimizer=dict(type='SGD', lr=0.1))))
    for cuda, bf16, expected, scale in [(True, True, 'BF16AmpOptimWrapper', None),
                                        (True, False, 'AmpOptimWrapper', 512.),
                                        (False, False, 'CPUAmpOptimWrapper', None)]:
        monkeypatch.setattr(amp.torch.cuda, 'is_available', lambda cuda=cuda: cuda)
        monkeypatch.setattr(amp, 'native_bf16', lambda bf16=bf16: bf16)
        edited = Config(cfg.to_dict())
        amp.use_amp(edited)
        assert edited.optim_wrapper.type == expected
        assert edited.optim_wrapper.get('loss_scale') == scale


def test_color_jitter_with_negative_hue_under_numpy2():
    """mmcv 2.1.0's adjust_hue overflows on numpy 2 for negative hue; mmcds patches it."""
    import mmcv
    import numpy as np
    from mmpretrain.registry import TRANSFORMS
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    for backend in ('cv2', 'pillow'):
        # A hue turn of -0.2 then +0.2 gives the image back (up to HSV rounding).
        there = mmcv.adjust_hue(img, -0.2, backend=backend)
        back = mmcv.adjust_hue(there, 0.2, backend=backend)
        assert not np.array_equal(there, img)
        assert np.abs(back.astype(int) - img.astype(int)).mean() < 3
    jitter = TRANSFORMS.build(dict(type='ColorJitter', hue=0.5))
    for _ in range(20):
        assert jitter(dict(img=img.copy()))['img'].shape == img.shape
