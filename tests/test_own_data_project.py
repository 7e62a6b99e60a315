"""The README's "Train on your own data" project, run as written (issue #26, 1 and 5).

The project's files and commands are taken from README.md itself, so the docs cannot
drift from what works: its files are written to a folder outside the repository, its
command block runs there with bash (the real tools, as a user calls them), with only a
tiny schedule added to the commands that train or test. The data is a real 2-class
photo set (hymenoptera: ants and bees), so the project meets the traps the README
warns about: fewer than 5 classes, a CDS leaf built on a CE leaf, inference with an
`mmcds::` config, a backbone that goes to mmdet.
"""
import os
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import REPO_ROOT, load_runner_checkpoint, shared_data

README = os.path.join(REPO_ROOT, 'README.md')
# A few images of each class (the folders are sorted: ants first, then bees).
TRAIN_INDICES = "'[0,1,2,3,200,201,202,203]'"  # quoted for bash
TEST_INDICES = "'[0,1,2,100,101,102]'"
TINY_TRAIN = ('--cfg-options', f'train_dataloader.dataset.indices={TRAIN_INDICES}',
              'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
              'train_dataloader.persistent_workers=False',
              f'val_dataloader.dataset.indices={TEST_INDICES}',
              'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
              'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
TINY_TEST = ('--cfg-options', f'test_dataloader.dataset.indices={TEST_INDICES}',
             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False')


def readme_blocks(language: str):
    """The README's fenced code blocks of ``language``, in order."""
    with open(README) as f:
        text = f.read()
    return re.findall(rf'^```{language}\n(.*?)^```', text, flags=re.M | re.S)


def project_files() -> dict:
    """``{file name: text}`` of the README's ``# my_project/<name>`` blocks."""
    files = {}
    for block in readme_blocks('python'):
        first, _, rest = block.partition('\n')
        match = re.fullmatch(r'# my_project/(\S+)', first.strip())
        if match:
            files[match.group(1)] = block
    return files


def project_commands() -> str:
    """The README's command block of the project (the one that sets ``MMCDS``), for
    bash: this repository as ``MMCDS``, this interpreter as ``python``, a tiny schedule
    on every train and test command."""
    (block, ) = [b for b in readme_blocks('bash') if b.startswith('MMCDS=')]
    lines = []
    for line in block.replace('\\\n', ' ').splitlines():
        if line.startswith('MMCDS='):
            line = f'MMCDS={REPO_ROOT}'
        elif line.startswith('python '):
            line = re.sub(r'\s+#.*$', '', line)  # the options go before a comment
            line = f'{sys.executable} {line[len("python "):]}'
            if '/tools/train.py' in line:
                line += ' ' + ' '.join(TINY_TRAIN)
            elif '/tools/test.py' in line:
                line += ' ' + ' '.join(TINY_TEST)
        lines.append(line)
    return '\n'.join(['set -ex'] + lines) + '\n'


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """The README's project in a folder outside the repository, its data linked."""
    root = tmp_path_factory.mktemp('my_project')
    os.makedirs(root / 'data')
    os.symlink(shared_data('hymenoptera'), root / 'data' / 'my_photos')
    for name, text in project_files().items():
        (root / name).write_text(text)
    return root


def test_readme_holds_the_whole_project():
    assert set(project_files()) == {'ce_r18.py', 'cds_r18.py', 'infer.py',
                                    'faster_rcnn_r18_cds.py'}
    commands = project_commands()
    for step in ('tools/train.py ce_r18.py', 'tools/train.py cds_r18.py',
                 'tools/test.py cds_r18.py', 'infer.py', '--format mmpretrain',
                 'tools/test.py ce_r18.py cds_r18_plain.pth', 'pytorch2onnx.py'):
        assert step in commands, step


def test_the_project_trains_tests_infers_and_exports(project):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = subprocess.run(['bash', '-c', project_commands()], cwd=project, env=env,
                         capture_output=True, text=True, timeout=1500)
    output = out.stdout + out.stderr
    assert out.returncode == 0, output[-6000:]
    assert not str(project).startswith(REPO_ROOT)
    checkpoint = (project / 'work_dirs' / 'cds_r18' / 'last_checkpoint').read_text().strip()
    assert checkpoint.endswith('epoch_1.pth')
    # both leaves trained on the two classes and evaluated top-1 (not top-5)
    assert 'accuracy/top1' in output and 'accuracy/top5' not in output
    state = load_runner_checkpoint(checkpoint)
    assert state['meta']['dataset_meta']['classes'] == ('ants', 'bees')
    assert any(key.startswith('cds_neck.') for key in state['state_dict'])
    # infer.py printed a class name and a score for each of its 4 images
    predictions = re.findall(r'^data/my_photos/val/(ants|bees)/\S+\.jpg (ants|bees) '
                             r'(0\.\d+|1\.0)$', out.stdout, flags=re.M)
    assert len(predictions) == 4, out.stdout[-3000:]
    # the plain checkpoint has no projection heads; ONNX agreed with PyTorch
    plain = torch.load(project / 'cds_r18_plain.pth', map_location='cpu',
                       weights_only=True)['state_dict']
    assert not any(key.startswith('cds_neck.') for key in plain)
    assert 'onnxruntime vs PyTorch' in output and (project / 'cds_r18.onnx').is_file()

    # The detector of the README reads this classifier's backbone: mmdet's ResNet-18
    # takes every backbone tensor of the checkpoint (7x7 stem included).
    from mmdet.registry import MODELS

    import mmcds  # noqa: F401  the 'mmcds::' prefix
    cwd = os.getcwd()
    os.chdir(project)
    try:
        cfg = Config.fromfile('faster_rcnn_r18_cds.py')
    finally:
        os.chdir(cwd)
    assert cfg.model.backbone.init_cfg.checkpoint == 'work_dirs/cds_r18/epoch_30.pth'
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    classifier = {k[len('backbone.'):]: v for k, v in state['state_dict'].items()
                  if k.startswith('backbone.')}
    backbone = detector.backbone.state_dict()
    assert backbone['conv1.weight'].shape[-2:] == (7, 7)
    assert set(classifier) == set(backbone)
    assert all(torch.equal(backbone[k], classifier[k]) for k in classifier)


def test_the_documented_backbone_change_keeps_every_stage(project, monkeypatch):
    """The README's way to change the backbone in the CDS leaf keeps the method's
    out_indices; the naive way drops them and the model refuses to build."""
    from mmpretrain.registry import MODELS

    import mmcds  # noqa: F401
    text = project_files()['cds_r18.py']
    documented = re.search(r'# model = (dict\(_base_\.method, backbone=dict\(_base_\.'
                           r'method\.backbone, depth=50\),\n#\s+head=dict\('
                           r'in_channels=2048\)\))', text)
    assert documented, 'the README no longer shows how to change the backbone'
    expression = documented.group(1).replace('\n#', '\n')
    monkeypatch.chdir(project)
    for name, model in (('right.py', expression),
                        ('naive.py', "dict(_base_.method, backbone=dict(depth=50), "
                                     "head=dict(in_channels=2048))")):
        (project / name).write_text(text.replace('model = _base_.method',
                                                 f'model = {model}'))
        cfg = Config.fromfile(name)
        if name == 'right.py':
            assert cfg.model.backbone.out_indices == (0, 1, 2, 3)
            assert MODELS.build(cfg.model).backbone.depth == 50
        else:
            with pytest.raises(ValueError, match='out_indices'):
                MODELS.build(cfg.model)
