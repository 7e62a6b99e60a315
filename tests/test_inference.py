"""mmpretrain's inference API on our configs and checkpoints (issue #16, 1): the
inferencer and get_model with a config path or a model name, on an image path and an
array, and a converted plain checkpoint giving the same prediction."""
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint
from mmpretrain.apis import (ImageClassificationInferencer, get_model,
                             inference_model)
from PIL import Image

import mmcds  # noqa: F401  (also what Config.fromfile's custom_imports does)
from conftest import randomize_state
from mmcds.converters import to_classifier

CIFAR = 'configs/{}/resnet18-w16_1xb64_cifar10-jpg.py'
PLAIN = CIFAR.format('ce')


def save_checkpoint_of(config: str, path, classes) -> str:
    """A checkpoint as tools/train.py writes it (meta with dataset_meta and cfg, the
    whole state dict), of ``config``'s model with every tensor randomised."""
    cfg = Config.fromfile(config)
    model = get_model(cfg)
    randomize_state(model, seed=1)
    save_checkpoint(dict(meta=dict(dataset_meta=dict(classes=classes), cfg=cfg.pretty_text),
                         state_dict=model.state_dict()), str(path))
    return str(path)


@pytest.fixture(scope='module')
def image(cifar10_root_module):
    return osp.join(cifar10_root_module, 'test', 'cat', '0000.jpg')


@pytest.fixture(scope='module')
def cifar10_root_module():
    from conftest import shared_data
    return shared_data('cifar10')


@pytest.fixture(scope='module')
def classes(cifar10_root_module):
    return sorted(os.listdir(osp.join(cifar10_root_module, 'test')))


def reference_scores(model, image_path: str, mean, std) -> torch.Tensor:
    """Softmax of the model on the image read with PIL (RGB), normalised by hand: an
    independent path to what the inferencer computes (it reads BGR with mmcv and
    normalises in the data preprocessor)."""
    rgb = np.asarray(Image.open(image_path).convert('RGB'), dtype=np.float32)
    x = (torch.from_numpy(rgb).permute(2, 0, 1) - torch.tensor(mean)[:, None, None]) \
        / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        return model(x[None], mode='tensor').softmax(-1)[0]


@pytest.mark.parametrize('method', ['cds', 'dsn', 'dks', 'selfcon'])
def test_inferencer_on_a_real_image(method, image, classes, tmp_path):
    config = CIFAR.format(method)
    checkpoint = save_checkpoint_of(config, tmp_path / 'epoch_1.pth', classes)
    inferencer = ImageClassificationInferencer(model=config, pretrained=checkpoint)
    from_path = inferencer(image)[0]
    from_array = inferencer(mmcv.imread(image))[0]  # BGR, as mmcv reads it

    cfg = Config.fromfile(config)
    expected = reference_scores(inferencer.model, image, cfg.data_preprocessor.mean,
                                cfg.data_preprocessor.std)
    for result in (from_path, from_array):
        np.testing.assert_allclose(result['pred_scores'], expected.numpy(), rtol=1e-4,
                                   atol=1e-6)
        assert result['pred_label'] == int(expected.argmax())
        assert result['pred_class'] == classes[result['pred_label']]

    # get_model reads the same checkpoint, with the classes of its dataset_meta
    model = get_model(config, pretrained=checkpoint)
    assert model._dataset_meta['classes'] == classes
    for key, value in model.state_dict().items():
        assert torch.equal(value, inferencer.model.state_dict()[key]), key

    # the converted plain checkpoint in the plain mmpretrain config: same prediction
    plain = tmp_path / 'plain.pth'
    torch.save(to_classifier(checkpoint), plain)
    plain_result = ImageClassificationInferencer(model=PLAIN, pretrained=str(plain))(image)[0]
    assert type(get_model(PLAIN)).__name__ == 'ImageClassifier'
    np.testing.assert_allclose(plain_result['pred_scores'], from_path['pred_scores'],
                               rtol=1e-5, atol=1e-7)
    assert plain_result['pred_class'] == from_path['pred_class']


def test_imagenet_config_pipeline_on_a_small_image(image, tmp_path):
    """The ImageNet configs' test pipeline (resize the short edge to 256, crop 224)
    works on any image size; the CDS model predicts one of 1000 classes."""
    config = 'configs/cds/resnet18_8xb32_in1k.py'
    checkpoint = save_checkpoint_of(config, tmp_path / 'in1k.pth',
                                    [f'class{i}' for i in range(1000)])
    result = ImageClassificationInferencer(config, pretrained=checkpoint)(image)[0]
    assert result['pred_scores'].shape == (1000, )
    assert result['pred_class'] == f'class{result["pred_label"]}'


def test_model_names_and_inference_model(image, classes, tmp_path):
    """With a model name (mmcds's model index, registered by `import mmcds`)
    inference_model works; with a model built from a config path it cannot (no
    model-zoo metadata), and the inferencer is what to call instead."""
    name = 'cds_resnet18-w16_1xb64_cifar10-jpg'
    checkpoint = save_checkpoint_of(CIFAR.format('cds'), tmp_path / 'cds.pth', classes)
    by_name = ImageClassificationInferencer(name, pretrained=checkpoint)(image)[0]
    by_path = ImageClassificationInferencer(CIFAR.format('cds'),
                                            pretrained=checkpoint)(image)[0]
    np.testing.assert_allclose(by_name['pred_scores'], by_path['pred_scores'])
    result = inference_model(name, image, pretrained=checkpoint)
    assert result['pred_class'] == by_path['pred_class']
    with pytest.raises(NotImplementedError, match='No available inferencer'):
        inference_model(get_model(CIFAR.format('cds'), pretrained=checkpoint), image)
