"""Export (issue #16, 5): a CDS classifier to ONNX through the plain converted model,
checked with onnxruntime against the CDS model itself; the torchvision-format export in
torchvision.models.resnet18/50 with the CDS model's outputs."""

import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint
from mmpretrain.apis import get_model

import mmcds  # noqa: F401
from conftest import load_tool, randomize_state
from mmcds.converters import to_torchvision



def randomised(config: str, **model_kwargs):
    """``config``'s model with every tensor (BN statistics too) random, in eval mode,
    and a checkpoint of it as tools/train.py writes one."""
    model = get_model(config, **model_kwargs)
    randomize_state(model, seed=2)
    return model.eval()


def save(model, config: str, path) -> str:
    save_checkpoint(dict(meta=dict(cfg=Config.fromfile(config).pretty_text),
                         state_dict=model.state_dict()), str(path))
    return str(path)


def run_tool(*argv):
    return load_tool('deployment/pytorch2onnx').main([str(a) for a in argv])


@pytest.mark.parametrize('config, size', [
    ('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py', 32),
    ('configs/cds/resnet18_8xb32_in1k.py', 64),
])
def test_onnx_export_computes_what_the_cds_model_does(config, size, tmp_path, capsys):
    onnx = pytest.importorskip('onnx', reason='optional dependency: pip install onnx '
                               '(requirements/optional.txt)')
    onnxruntime = pytest.importorskip(
        'onnxruntime', reason='optional dependency: pip install onnxruntime '
        '(requirements/optional.txt)')
    model = randomised(config)
    checkpoint = save(model, config, tmp_path / 'cds.pth')
    out = tmp_path / 'cds.onnx'
    assert run_tool(config, checkpoint, '--out', out, '--shape', size, '--verify') == 0
    assert 'max |difference|' in capsys.readouterr().out

    graph = onnx.load(str(out))
    onnx.checker.check_model(graph)
    assert [i.name for i in graph.graph.input] == ['input']
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'
    # the projection heads are not in the graph: the plain model's weights only
    assert sum(int(torch.tensor(t.dims).prod()) for t in graph.graph.initializer) < \
        sum(p.numel() for p in model.parameters())

    session = onnxruntime.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    for batch in (1, 4):
        x = torch.randn(batch, 3, size, size)
        (logits, ) = session.run(None, {'input': x.numpy()})
        with torch.no_grad():
            expected = model(x, mode='tensor')
        torch.testing.assert_close(torch.from_numpy(logits), expected, rtol=1e-4,
                                   atol=1e-5)


def test_verify_flags_a_wrong_export(tmp_path, monkeypatch, capsys):
    """--verify fails when ONNX and PyTorch disagree (here: a tolerance below float
    round-off)."""
    pytest.importorskip('onnxruntime', reason='optional dependency: pip install '
                        'onnxruntime (requirements/optional.txt)')
    config = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'
    checkpoint = save(randomised(config), config, tmp_path / 'cds.pth')
    assert run_tool(config, checkpoint, '--out', tmp_path / 'm.onnx', '--shape', 32,
                    '--verify', '--atol', '0') == 1
    assert 'computes something else' in capsys.readouterr().err


@pytest.mark.parametrize('depth', [18, 50])
def test_torchvision_format_loads_in_torchvision_resnet(depth, tmp_path):
    config = f'configs/cds/resnet{depth}_8xb32_in1k.py'
    model = randomised(config)
    checkpoint = save(model, config, tmp_path / 'cds.pth')
    state_dict = to_torchvision(checkpoint, depth=depth)
    resnet = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    resnet.load_state_dict(state_dict, strict=True)
    resnet.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(resnet(x), model(x, mode='tensor'))
