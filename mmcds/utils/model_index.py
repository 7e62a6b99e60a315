"""mmcds's model index in mmpretrain's model list.

``model-index.yml`` (shipped as ``mmcds/.mim/model-index.yml``) imports one
``metafile.yml`` per config folder, in mmpretrain's schema. ``import mmcds`` adds its
image-classification models to mmpretrain's ``ModelHub``, so that mmpretrain's own API
takes their names: ``list_models('cds*')``, ``get_model('cds_resnet50_8xb32_in1k',
pretrained=CKPT)``, ``ImageClassificationInferencer('cds_resnet50_8xb32_in1k', ...)``
and ``inference_model(NAME, IMAGE, pretrained=CKPT)``. Detection models stay out:
mmpretrain would build them in its own scope.
"""
import os.path as osp
import warnings
from typing import List

MIM_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')
MODEL_INDEX = osp.join(MIM_DIR, 'model-index.yml')
# The task of the models mmpretrain's ModelHub gets (its inference_model picks the
# inferencer from it).
CLASSIFICATION = 'Image Classification'


def load_model_index(path: str = MODEL_INDEX) -> list:
    """Every model of the index, with its collection's fields filled in.

    Returns:
        list[modelindex.models.Model.Model]: ``name``, ``config`` (relative to the
        index's folder), ``results`` (``task``, ``dataset``, ``metrics``), ``weights``,
        ``metadata`` and the custom fields (``Notes``) in ``data``.
    """
    from modelindex.load_model_index import load
    index = load(path)
    index.build_models_with_collections()
    return [model.full_model for model in index.models]


def register_model_index(path: str = MODEL_INDEX) -> List[str]:
    """Add the index's image-classification models to mmpretrain's ``ModelHub``.

    A model whose name is already there (a second call) is left as it is. Returns the
    names added.
    """
    from mmpretrain.apis import ModelHub
    if not osp.isfile(path):
        warnings.warn(f'mmcds: {path} is missing, so mmpretrain.get_model does not know '
                      "mmcds's model names; reinstall mmcds (pip install -e .)")
        return []
    added = []
    for model in load_model_index(path):
        tasks = {result.task for result in model.results or []}
        name = model.name.lower()
        if tasks != {CLASSIFICATION} or ModelHub.has(name):
            continue
        # What ModelHub.register_model_index does per model, for this subset.
        model.config = ModelHub._expand_config_path(model, osp.dirname(path))
        ModelHub._models_dict[name] = model
        added.append(name)
    return added
