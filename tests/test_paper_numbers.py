"""The metafiles record every number of the paper's ImageNet table (Table 3, as
configs/cds/README.md transcribes it) for the config of that method and network, and
nothing the paper does not report (SelfCon, the no-max-pool variants)."""
import os.path as osp
import re

import pytest

import mmcds  # noqa: F401
from conftest import REPO_ROOT
from mmcds.utils.model_index import load_model_index

BY_CONFIG = {m.config: m
             for m in load_model_index(osp.join(REPO_ROOT, 'model-index.yml'))}
COLUMNS = ('ce', 'dsn', 'dks', 'dhm', 'cds')  # Base, DSN, DKS, DHM, CDS


def table3():
    """``{(method, depth): top-1}`` from the README's ImageNet table rows."""
    text = open('configs/cds/README.md').read()
    rows = re.findall(r'^\| \[resnet(\d+)_8xb32_in1k\.py\]\(.*?\) \| ResNet-\d+ \| '
                      r'([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$',
                      text, re.M)
    return {(method, int(depth)): float(value) for depth, *values in rows
            for method, value in zip(COLUMNS, values)}


def test_the_readme_table_has_every_cell():
    numbers = table3()
    assert len(numbers) == 15
    # the paper's values, as issue #23 quotes two of them
    assert numbers['ce', 34] == 73.17 and numbers['ce', 50] == 75.30


@pytest.mark.parametrize('method', COLUMNS)
@pytest.mark.parametrize('depth', [18, 34, 50])
def test_metafile_records_the_paper_s_number(method, depth):
    model = BY_CONFIG[f'configs/{method}/resnet{depth}_8xb32_in1k.py']
    assert model.results[0].metrics == {'Top 1 Accuracy': table3()[method, depth]}
    notes = model.data['Notes']
    assert 'reported in the' in notes and 'not reproduced' in notes
    assert 'Table 3' in notes


def test_no_number_where_the_paper_gives_none():
    unreported = ['configs/selfcon/resnet18_8xb32_in1k.py'] + [
        f'configs/{method}/resnet{depth}-nomaxpool_8xb32_in1k.py'
        for method in ('ce', 'cds') for depth in (18, 34, 50)]
    for config in unreported:
        assert BY_CONFIG[config].results[0].metrics == {}, config
    assert 'does not compare against SelfCon' in \
        BY_CONFIG['configs/selfcon/resnet18_8xb32_in1k.py'].data['Notes']


@pytest.mark.parametrize('detector', ['faster_rcnn', 'retinanet'])
def test_detection_notes_name_no_baseline_source(detector):
    notes = BY_CONFIG[f'configs/det/{detector}_r50_cds.py'].data['Notes']
    assert 'torchvision' not in notes and "mmdet's config" not in notes
    assert 'does not name' in notes
