"""Export a classifier of ours to ONNX through the plain mmpretrain model it converts to.

At test time our classifiers (CDS, DSN, DKS, SelfCon) are mmpretrain's
``ImageClassifier``: ``backbone -> neck -> head`` on the last stage. The export builds
that plain model from the training config (:func:`plain_classifier_config`), loads the
checkpoint's ``backbone.``/``neck.``/``head.`` tensors into it strictly
(:func:`~mmcds.converters.to_classifier`) and exports

    logits = head(neck(backbone(x)[-1]))    x: (N, 3, H, W) -> logits: (N, num_classes)

with a dynamic batch axis. ``x`` is the image as the config's data preprocessor hands
it to the model: RGB (``to_rgb``), ``(pixel - mean) / std`` with the config's
``data_preprocessor.mean``/``std``; softmax over the logits gives mmpretrain's
``pred_score``.

The exporter is torch's TorchScript-based one (``torch.onnx.export(dynamo=False)``),
which needs no package beyond torch; checking the file needs ``onnxruntime``
(``requirements/optional.txt``).
"""
import copy
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict

from .cds_checkpoint import Checkpoint, to_classifier

# ImageClassifier's own arguments: everything else in our classifiers' configs
# (cds_neck, cds_loss, exit_*, kl_*, selfcon_*) is training-only.
PLAIN_KEYS = ('backbone', 'neck', 'head', 'pretrained', 'init_cfg')


class ClassifierLogits(nn.Module):
    """``model(x, mode='tensor')`` as a plain module: (N, 3, H, W) -> (N, C) logits."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.classifier(inputs, mode='tensor')


def plain_classifier_config(cfg: Config) -> ConfigDict:
    """The ``ImageClassifier`` config that runs what ``cfg.model`` runs at test time.

    Keeps ``backbone``, ``neck`` and ``head``; the backbone outputs only its last
    stage (``out_indices``: the largest one the training config asks for), and the
    data preprocessor is mmpretrain's ``ClsDataPreprocessor`` with the config's
    mean, std and ``to_rgb``.
    """
    model = cfg.model
    plain = ConfigDict({key: copy.deepcopy(model[key]) for key in PLAIN_KEYS
                        if model.get(key) is not None})
    if 'backbone' not in plain or 'head' not in plain:
        raise ValueError(f'model ({model.get("type")}): a plain classifier needs '
                         'model.backbone and model.head')
    out_indices = plain.backbone.get('out_indices')
    if isinstance(out_indices, (list, tuple)):
        plain.backbone.out_indices = (max(out_indices), )
    preprocessor = copy.deepcopy(model.get('data_preprocessor') or
                                 cfg.get('data_preprocessor') or {})
    preprocessor['type'] = 'ClsDataPreprocessor'
    plain.update(type='ImageClassifier', data_preprocessor=preprocessor)
    return plain


def build_plain_classifier(config: Union[str, Config],
                           checkpoint: Union[str, Checkpoint]) -> nn.Module:
    """The plain ``ImageClassifier`` of ``config`` with ``checkpoint``'s weights, in
    eval mode (every tensor of the plain model is loaded: ``strict=True``)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    cfg = Config.fromfile(config) if isinstance(config, str) else config
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(plain_classifier_config(cfg))
    model.load_state_dict(to_classifier(checkpoint)['state_dict'], strict=True)
    return model.eval()


def export_onnx(config: Union[str, Config],
                checkpoint: Union[str, Checkpoint],
                out: str,
                image_size: Sequence[int] = (224, 224),
                opset: int = 17) -> nn.Module:
    """Export the plain classifier of ``config`` + ``checkpoint`` to ``out``.

    The graph takes ``input`` (N, 3, H, W) with N dynamic and gives ``logits``
    (N, num_classes). Returns the exported PyTorch module (:class:`ClassifierLogits`),
    to compare against with :func:`onnx_max_abs_diff`.
    """
    module = ClassifierLogits(build_plain_classifier(config, checkpoint)).eval()
    dummy = torch.zeros(1, 3, *image_size)
    torch.onnx.export(
        module, (dummy, ), out, dynamo=False, opset_version=opset,
        input_names=['input'], output_names=['logits'],
        dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    # the exporter restores the module's mode from before; keep it in eval
    return module.eval()


def onnx_max_abs_diff(onnx_file: str, module: nn.Module,
                      inputs: Sequence[torch.Tensor]) -> float:
    """Largest ``|onnxruntime - PyTorch|`` over the outputs for every batch in
    ``inputs``.

    Raises:
        ImportError: onnxruntime is not installed.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_file,
                                           providers=['CPUExecutionProvider'])
    module.eval()
    worst = 0.
    for batch in inputs:
        (ours, ) = session.run(None, {'input': batch.numpy()})
        with torch.no_grad():
            reference = module(batch).numpy()
        if ours.shape != reference.shape:
            raise ValueError(f'{onnx_file}: output {ours.shape} for input '
                             f'{tuple(batch.shape)}, PyTorch gives {reference.shape}')
        worst = max(worst, float(np.abs(ours - reference).max()))
    return worst


def random_inputs(image_size: Sequence[int], batch_sizes=(1, 3),
                  seed: Optional[int] = 0):
    """Normalised-image-like inputs (standard normal) of each batch size."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, *image_size, generator=generator) for n in batch_sizes]
