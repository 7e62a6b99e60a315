"""The model index (issue #16, 2): model-index.yml + one metafile.yml per config folder in
mmpretrain's schema, listing every leaf config under configs/. The test is driven by
the files: a new config only needs its metafile entry (configs/README.md)."""
import glob
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

import mmcds  # noqa: F401  registers the index in mmpretrain's ModelHub
from conftest import REPO_ROOT
from mmcds.utils.model_index import CLASSIFICATION, MODEL_INDEX, load_model_index

INDEX = osp.join(REPO_ROOT, 'model-index.yml')
MODELS = load_model_index(INDEX)
BY_CONFIG = {model.config: model for model in MODELS}
LEAF_CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, REPO_ROOT).split(osp.sep))


def paper_table(readme: str) -> dict:
    """``{config file name: last column}`` of the '(paper)' table rows of a README."""
    rows = re.findall(r'^\| \[([\w.-]+\.py)\]\(.*\|\s*([\d.]+) \|$',
                      open(osp.join(REPO_ROOT, readme)).read(), re.M)
    return {name: float(value) for name, value in rows}


def test_index_imports_every_metafile():
    index = yaml.safe_load(open(INDEX))
    metafiles = sorted(osp.relpath(p, REPO_ROOT) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '*', 'metafile.yml')))
    assert sorted(index['Import']) == metafiles
    # what mmengine and the installed package read is the same file
    assert osp.samefile(MODEL_INDEX, INDEX)


def test_every_leaf_config_is_listed_once():
    listed = [model.config for model in MODELS]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    missing = sorted(set(LEAF_CONFIGS) - set(listed))
    assert not missing, f'add these configs to their folder\'s metafile.yml: {missing}'
    assert not sorted(set(listed) - set(LEAF_CONFIGS)), 'listed configs that do not exist'


@pytest.mark.parametrize('model', MODELS, ids=lambda m: m.name)
def test_entry(model):
    folder, stem = osp.basename(osp.dirname(model.config)), \
        osp.splitext(osp.basename(model.config))[0]
    assert model.name == f'{folder}_{stem}'
    assert model.weights is None, 'no trained weights are released yet'
    assert model.paper['Title'] and model.paper['URL'].startswith('https://')
    assert osp.isfile(osp.join(REPO_ROOT, model.readme)), model.readme
    assert len(model.results) == 1
    result = model.results[0]
    assert result.task in (CLASSIFICATION, 'Object Detection')
    assert result.dataset == model.metadata.training_data
    notes = model.data['Notes']
    if result.metrics:
        assert 'reported in the paper' in notes or 'reported in the CDS paper' in notes
        assert 'not reproduced' in notes
    else:
        assert 'no result' in notes.lower() or 'measured table' in notes

    cfg = Config.fromfile(osp.join(REPO_ROOT, model.config))
    assert model.metadata.epochs == cfg.train_cfg.max_epochs
    gpus = re.search(r'_(\d+)xb(\d+)', stem)
    resources = (model.metadata.data.get('Training Resources') or '').split('x')[0]
    gpus = int(gpus.group(1)) if gpus else int(resources or 1)
    assert model.metadata.batch_size == gpus * cfg.train_dataloader.batch_size
    scope = cfg.get('default_scope', None)
    assert (scope == 'mmdet') == (result.task == 'Object Detection')


def test_paper_numbers_match_the_readmes():
    """The metafiles' numbers are the README tables' (both transcribe the paper)."""
    cds = paper_table('configs/cds/README.md')
    # the detection table has a row per detector, CDS in the last column
    det = {f'{name}_r50_cds.py': float(value) for name, value in (
        (n.replace('Faster R-CNN', 'faster_rcnn').replace('RetinaNet', 'retinanet'), v)
        for n, v in re.findall(r'^\| (Faster R-CNN|RetinaNet) R50-FPN 1x \|.*\| ([\d.]+) \|$',
                               open(osp.join(REPO_ROOT, 'configs/det/README.md')).read(),
                               re.M))}
    assert len(cds) == 3 and len(det) == 2
    for tables, folder, metric in ((cds, 'cds', 'Top 1 Accuracy'), (det, 'det', 'box AP')):
        for name, value in tables.items():
            assert BY_CONFIG[f'configs/{folder}/{name}'].results[0].metrics == \
                {metric: value}, name
    # the cross-entropy baseline of the ResNet-18 row
    baseline = re.search(r'resnet18_8xb32_in1k\.py\) \| ResNet-18 \| ([\d.]+)',
                         open(osp.join(REPO_ROOT, 'configs/cds/README.md')).read())
    assert BY_CONFIG['configs/ce/resnet18_8xb32_in1k.py'].results[0].metrics == \
        {'Top 1 Accuracy': float(baseline.group(1))}
    with_numbers = {m.config for m in MODELS if m.results[0].metrics}
    # the CDS column and the Base, DSN, DKS, DHM columns of Table 3 (3 networks each;
    # tests/test_paper_numbers.py checks them), and the 2 detectors
    assert len(with_numbers) == 17


def test_mmpretrain_knows_the_classification_names():
    from mmpretrain import get_model, list_models
    from mmpretrain.apis import ModelHub
    ours = {m.name for m in MODELS if m.results[0].task == CLASSIFICATION}
    # mmpretrain registers its own index lazily and refuses a name twice
    listed = set(list_models())
    assert ours <= listed
    assert not {m.name for m in MODELS} - ours & listed, 'detectors stay out'
    metainfo = ModelHub.get('cds_resnet18-w16_1xb64_cifar10-jpg')
    assert metainfo.config.model.type == 'CDSClassifier'
    model = get_model('cds_resnet18-w16_1xb64_cifar10-jpg')
    assert type(model).__name__ == 'CDSClassifier'
    assert model._metainfo.results[0].task == CLASSIFICATION
