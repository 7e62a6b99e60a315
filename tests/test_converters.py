"""The CDS checkpoint converter: each output format loads where it claims to, and bad
inputs fail with messages that say what is wrong."""
import pickle

import pytest
import torch
import torchvision
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

import mmcds  # noqa: F401  registers CDSClassifier & co.
from mmcds.converters import convert_checkpoint, to_backbone, to_classifier, to_torchvision
from mmcds.utils.checkpoint import (CheckpointError, infer_resnet_arch,
                                    load_checkpoint_file)
from conftest import load_tool, randomize_state

NUM_CLASSES = 5


def build_cds(backbone: dict, channels: int):
    """A CDSClassifier around ``backbone`` (4 stages, last with ``channels``), with
    every tensor randomised so that no comparison can pass on default init values."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(dict(
        type='CDSClassifier', _scope_='mmpretrain',
        backbone=dict(out_indices=(0, 1, 2, 3), **backbone),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=channels)))
    randomize_state(model, seed=0)
    return model.eval()


def save_like_runner(model, path, cfg_text="model = dict(type='CDSClassifier')"):
    """What mmengine's Runner.save_checkpoint writes: meta + state_dict + the message
    hub (HistoryBuffer, numpy values) + optimizer state."""
    hub = MessageHub.get_instance('mmcds_test_converters')
    hub.update_scalar('train/loss', 1.25)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    save_checkpoint(
        dict(meta=dict(cfg=cfg_text, seed=0, epoch=1, iter=4,
                       experiment_name='test', mmengine_version='0.10.7',
                       dataset_meta=dict(classes=[str(i) for i in range(NUM_CLASSES)])),
             state_dict=weights_to_cpu(model.state_dict()),
             message_hub=hub.state_dict(),
             optimizer=optimizer.state_dict()), str(path))
    return str(path)


@pytest.fixture(scope='module')
def narrow(tmp_path_factory):
    """ResNet-18 of width 16 with the 7x7 stem (what the small detectors use)."""
    model = build_cds(dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
                      128)
    return model, save_like_runner(model, tmp_path_factory.mktemp('narrow') / 'cds.pth')


@pytest.fixture(scope='module')
def wide(tmp_path_factory):
    """Standard-width ResNet-18: the only kind torchvision's resnet18 takes."""
    model = build_cds(dict(type='ResNet', depth=18), 512)
    return model, save_like_runner(model, tmp_path_factory.mktemp('wide') / 'cds.pth')


def run_tool(*argv):
    return load_tool('model_converters/convert_cds_checkpoint').main(
        [str(a) for a in argv])


def test_runner_checkpoint_is_read(narrow):
    model, path = narrow
    checkpoint = load_checkpoint_file(path)
    assert set(checkpoint['state_dict']) == set(model.state_dict())
    assert any(k.startswith('cds_neck.') for k in checkpoint['state_dict'])
    arch = infer_resnet_arch(
        {k[9:]: v for k, v in checkpoint['state_dict'].items()
         if k.startswith('backbone.')})
    assert (arch.depth, arch.block, arch.stem, arch.stem_channels,
            arch.base_channels) == (18, 'BasicBlock', '7x7', 16, 16)


def test_mmpretrain_format_loads_into_image_classifier(narrow, tmp_path):
    from mmpretrain.registry import MODELS
    model, path = narrow
    dst = tmp_path / 'cls.pth'
    assert run_tool(path, dst, '--format', 'mmpretrain', '--depth', 18) == 0
    converted = torch.load(dst, weights_only=True)
    assert not any(k.startswith('cds_neck.') for k in converted['state_dict'])
    assert 'cfg' not in converted['meta']
    assert converted['meta']['converted_from']['checkpoint'] == path
    assert converted['meta']['dataset_meta']['classes'] == ['0', '1', '2', '3', '4']

    plain = MODELS.build(dict(
        type='ImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=128)))
    result = plain.load_state_dict(converted['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    plain.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(plain(x, mode='tensor'), model(x, mode='tensor'))


def test_backbone_format_loads_into_mmdet_resnet(narrow, tmp_path):
    from mmdet.models.backbones import ResNet
    model, path = narrow
    dst = tmp_path / 'backbone.pth'
    assert run_tool(path, dst, '--format', 'backbone') == 0
    converted = torch.load(dst, weights_only=True)
    assert not any(k.startswith('backbone.') for k in converted['state_dict'])

    # the way an mmdet config uses it: Pretrained without a prefix
    resnet = ResNet(depth=18, stem_channels=16, base_channels=16,
                    init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    resnet.init_weights()
    expected = model.backbone.state_dict()
    loaded = resnet.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    result = ResNet(depth=18, stem_channels=16, base_channels=16).load_state_dict(
        converted['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.fixture(scope='module')
def wide50(tmp_path_factory):
    """Standard-width ResNet-50: Bottleneck blocks, stride in the 3x3 conv."""
    model = build_cds(dict(type='ResNet', depth=50), 2048)
    return model, save_like_runner(model, tmp_path_factory.mktemp('wide50') / 'cds.pth')


@pytest.mark.parametrize('depth', [18, 50])
def test_torchvision_format_computes_what_the_classifier_does(depth, wide, wide50,
                                                              tmp_path):
    model, path = {18: wide, 50: wide50}[depth]
    dst = tmp_path / 'tv.pth'
    assert run_tool(path, dst, '--format', 'torchvision', '--depth', depth) == 0
    state_dict = torch.load(dst, weights_only=True)
    assert 'fc.weight' in state_dict and not any('.' in k and k.split('.')[0] in (
        'backbone', 'head', 'neck', 'cds_neck') for k in state_dict)
    resnet = getattr(torchvision.models, f'resnet{depth}')(weights=None,
                                                           num_classes=NUM_CLASSES)
    resnet.load_state_dict(state_dict, strict=True)
    resnet.eval()
    # 40 px: odd feature-map sizes, where a stride in the wrong conv of a
    # Bottleneck would change the output.
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(resnet(x), model(x, mode='tensor'))


def test_converter_cli_errors_name_the_problem(narrow, tmp_path, capsys):
    _, path = narrow
    cases = [
        ((tmp_path / 'missing.pth', tmp_path / 'out.pth'), 'checkpoint file not found'),
        ((path, path), 'refusing to overwrite the source checkpoint'),
    ]
    notes = tmp_path / 'notes.pth'
    notes.write_text('not a checkpoint')
    cases.append(((notes, tmp_path / 'out.pth'), 'is not a PyTorch checkpoint'))
    for argv, message in cases:
        assert run_tool(*argv) == 1, message
        assert message in capsys.readouterr().err, message
        assert not (tmp_path / 'out.pth').exists()


def test_ddp_module_prefix_is_stripped(narrow, tmp_path):
    """A checkpoint saved from a DDP-wrapped model has 'module.' before every key."""
    model, _ = narrow
    ddp_path = tmp_path / 'ddp.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict={
        f'module.{k}': v for k, v in model.state_dict().items()}), ddp_path)
    assert set(load_checkpoint_file(ddp_path)['state_dict']) == set(model.state_dict())
    backbone = to_backbone(str(ddp_path), depth=18)['state_dict']
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone[key], value), key


def test_converted_outputs_are_equal_tensors(narrow):
    model, path = narrow
    backbone = to_backbone(path, depth=18)['state_dict']
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone[key], value), key
    classifier = to_classifier(path)['state_dict']
    for key, value in model.state_dict().items():
        if not key.startswith('cds_neck.'):
            assert torch.equal(classifier[key], value), key


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(CheckpointError, match='is not a PyTorch checkpoint'):
        load_checkpoint_file(text)
    listed = tmp_path / 'list.pth'
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(CheckpointError, match='holds a list'):
        load_checkpoint_file(listed)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint_file(tmp_path / 'missing.pth')


class Payload:
    """Anything torch.load(weights_only=True) must not unpickle."""

    def __reduce__(self):
        return (print, ('this must not run',))


def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'state_dict': Payload()}, f)
    with pytest.raises(CheckpointError, match='loaded safely'):
        load_checkpoint_file(path)


def test_no_backbone_weights(tmp_path):
    path = tmp_path / 'tv_like.pth'
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(CheckpointError, match='no backbone weights.*bare ResNet'):
        to_backbone(str(path))
    head_only = tmp_path / 'head_only.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}}, head_only)
    with pytest.raises(CheckpointError, match=r"no backbone weights.*\['head'\]"):
        load_checkpoint_file(head_only)


def test_depth_mismatch(narrow, tmp_path, capsys):
    _, path = narrow
    for convert in (to_backbone, to_classifier, to_torchvision):
        with pytest.raises(CheckpointError, match='ResNet-18.*requested depth 50'):
            convert(path, depth=50)
    assert run_tool(path, tmp_path / 'x.pth', '--depth', 34) == 1
    assert 'does not match the requested depth 34' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()


def test_cifar_stem_is_refused(tmp_path):
    model = build_cds(dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                           base_channels=16), 128)
    path = save_like_runner(model, tmp_path / 'cifar.pth')
    with pytest.raises(CheckpointError, match='3x3 stem.*ResNet_CIFAR'):
        to_backbone(path)
    # the classifier format has no stem requirement
    assert len(to_classifier(path)['state_dict']) > 0


def test_torchvision_needs_standard_widths_and_pytorch_style(narrow, wide, tmp_path):
    with pytest.raises(CheckpointError, match='64 stem and base channels'):
        to_torchvision(narrow[1])
    model = wide[0]
    caffe = save_like_runner(model, tmp_path / 'caffe.pth',
                             cfg_text="model = dict(backbone=dict(style='caffe'))")
    with pytest.raises(CheckpointError, match="style='caffe'"):
        to_torchvision(caffe)


def test_convert_checkpoint_refuses_to_overwrite_its_source(narrow):
    with pytest.raises(ValueError, match='overwrite'):
        convert_checkpoint(narrow[1], narrow[1], 'backbone')
