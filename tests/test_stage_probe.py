"""tools/analysis_tools/stage_probe.py and mmcds.experiments.stage_probe (issue #13,
item 2): the probe on data sets whose answer is known, the features against the
backbone's own stage outputs, the CLI end to end, and its refusals."""
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import MODELS

from conftest import load_tool, seeded_model
from mmcds.experiments import stage_probe as sp

tool = load_tool('analysis_tools/stage_probe')

CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'
MMP = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'
# Width 8 (stages of 8/16/32/64 channels): every config here takes the same keys.
# 3 classes, as the colour data set.
TINY = {'model.backbone.stem_channels': 8, 'model.backbone.base_channels': 8,
        'model.head.in_channels': 64, 'model.head.num_classes': 3}
TINY_ARGS = ['--cfg-options'] + [f'{k}={v}' for k, v in TINY.items()]
COLOURS = {'blue': (255, 0, 0), 'green': (0, 255, 0), 'red': (0, 0, 255)}  # BGR


def write_folders(root, split, labels_of_images, make_image):
    """``root/split/<class>/NNNN.png`` for every (class name, index)."""
    for index, name in enumerate(labels_of_images):
        folder = osp.join(root, split, name)
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(osp.join(folder, f'{index:04d}.png'), make_image(name, index))


@pytest.fixture(scope='module')
def colour_root(tmp_path_factory):
    """3 classes of 32x32 PNGs that differ by a strong constant colour (+ noise):
    8 train and 4 test images each."""
    root = str(tmp_path_factory.mktemp('colours'))
    rng = np.random.default_rng(0)

    def image(name, index):
        noise = rng.integers(0, 40, (32, 32, 3))
        return np.clip(np.array(COLOURS[name]) * .8 + noise, 0, 255).astype(np.uint8)

    for split, count in (('train', 8), ('test', 4)):
        write_folders(root, split, [n for n in COLOURS for _ in range(count)], image)
    return root


@pytest.fixture(scope='module')
def noise_root(tmp_path_factory):
    """2 classes of pure-noise 8x8 PNGs (labels independent of the pixels): 60 train
    and 60 test images each."""
    root = str(tmp_path_factory.mktemp('noise'))
    rng = np.random.default_rng(1)
    for split in ('train', 'test'):
        write_folders(root, split, ['a'] * 60 + ['b'] * 60,
                      lambda name, index: rng.integers(0, 256, (8, 8, 3),
                                                       dtype=np.uint8))
    return root


def tiny_cfg(config=CDS):
    return sp.load_config(config, dict(TINY))


def save_checkpoint(model, path, classes=None, extra=None):
    """What the runner writes: meta (with the training classes) + state dict."""
    state = dict(model.state_dict(), **(extra or {}))
    meta = {'dataset_meta': {'classes': classes}} if classes else {}
    torch.save({'meta': meta, 'state_dict': state}, path)
    return str(path)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory, colour_root):
    """A tiny CDS checkpoint (runner format, trained classes = the colour folders)
    and a tiny plain mmpretrain CIFAR one (bare state dict), random weights."""
    folder = tmp_path_factory.mktemp('ckpt')
    cds = seeded_model(tiny_cfg(CDS), seed=3)
    fit_head(cds, colour_root)
    mmp = seeded_model(tiny_cfg(MMP), seed=4)
    fit_head(mmp, colour_root, rgb=True)
    torch.save(mmp.state_dict(), folder / 'mmp.pth')
    return dict(cds=save_checkpoint(cds, folder / 'cds.pth', sorted(COLOURS)),
                mmp=str(folder / 'mmp.pth'), cds_model=cds, mmp_model=mmp)


def test_linear_probe_known_answers():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    separable = np.eye(3)[labels] * 5 + rng.normal(size=(150, 3))
    assert sp.linear_probe(separable, labels, separable, labels)['top1'] == 100
    noise_train, noise_test = rng.normal(size=(2, 400, 16))
    two = np.repeat([0, 1], 200)
    result = sp.linear_probe(noise_train, two, noise_test, two)
    assert 40 < result['top1'] < 60 and result['converged']
    assert result['se'] == pytest.approx(100 * np.sqrt(.25 / 400), abs=.2)


def run_tool(root, work_dir, *models, extra=()):
    argv = ['--data-root', root, '--work-dir', str(work_dir), '--tsne-samples', '12',
            *extra]
    for model in models:
        argv += ['--model', *model]
    return tool.main(argv + TINY_ARGS)


def test_probe_is_perfect_on_colours_and_chance_on_noise(colour_root, noise_root,
                                                         tmp_path):
    # Random weights, but the colour alone decides the class: 100% at every stage.
    colours = run_tool(colour_root, tmp_path / 'c', ('R', CDS, 'none'))
    assert [p['top1'] for p in colours['models'][0]['probe']] == [100.] * 4
    # Pixels independent of the labels: about chance (50%) on held-out images.
    noise = run_tool(noise_root, tmp_path / 'n', ('R', CDS, 'none'))
    top1 = [p['top1'] for p in noise['models'][0]['probe']]
    assert noise['data']['test_images'] == 120 and len(top1) == 4
    assert all(t < 70 for t in top1), top1


def test_cli_end_to_end(colour_root, checkpoints, tmp_path):
    report = run_tool(colour_root, tmp_path, ('CDS', CDS, checkpoints['cds']),
                      ('plain', MMP, checkpoints['mmp']))
    for name in ('stage_probe.md', 'stage_probe.json', 'probe_accuracy.png',
                 'tsne.png'):
        assert osp.getsize(tmp_path / name) > 0
    table = (tmp_path / 'stage_probe.md').read_text()
    header = next(line for line in table.splitlines() if line.startswith('| model'))
    assert header == '| model | stage 1 | stage 2 | stage 3 | stage 4 | classifier |'
    rows = {line.split('|')[1].strip(): line for line in table.splitlines()
            if line.startswith('| CDS') or line.startswith('| plain')}
    assert set(rows) == {'CDS', 'plain'}
    assert re.match(r'\| CDS \| 100\.0 ± 0\.0 \|', rows['CDS'])
    assert 'Command: `python tools/analysis_tools/stage_probe.py' in table
    assert 'Machine: ' in table and 'Date (UTC): ' in table
    with open(tmp_path / 'stage_probe.json') as f:
        assert json.load(f) == json.loads(json.dumps(report))
    cds, plain = report['models']
    assert cds['stage_dims'] == plain['stage_dims'] == [8, 16, 32, 64]
    assert [p['top1'] for p in cds['probe']] == [100.] * 4
    # what the checkpoint holds beyond the classifier is named, not loaded
    assert any('cds_neck' in n for n in cds['notes'])
    # the classifiers' own top-1, as their original models give it
    assert cds['classifier_top1'] == plain['classifier_top1'] == 100
    assert cds['classifier_top1'] == pytest.approx(
        own_top1(checkpoints['cds_model'], colour_root))
    assert plain['classifier_top1'] == pytest.approx(
        own_top1(checkpoints['mmp_model'], colour_root, rgb=True))
    assert any('names no classes' in n for n in plain['notes'])
    assert any('LoadImageFromFile prepended' in n for n in plain['notes'])


def read_split(model, root, split, rgb=False):
    """A split's images, read independently of the tool with cv2 (as RGB for a
    model trained on mmpretrain's in-memory CIFAR10) and preprocessed by ``model``;
    ``(inputs, labels)``."""
    inputs, labels = [], []
    for label, name in enumerate(sorted(COLOURS)):
        folder = osp.join(root, split, name)
        for file in sorted(os.listdir(folder)):
            image = cv2.imread(osp.join(folder, file))
            if rgb:
                image = image[..., ::-1]
            inputs.append(torch.from_numpy(image.copy()).permute(2, 0, 1).contiguous())
            labels.append(label)
    data = model.data_preprocessor({'inputs': inputs, 'data_samples': None}, False)
    return data['inputs'], torch.tensor(labels)


def fit_head(model, root, rgb=False):
    """Set the head's fc to the least-squares fit of one-hot labels on the train
    split's pooled features, so that the classifier's own top-1 tells a right
    channel order (100%) from a swapped one (red and blue confused)."""
    inputs, labels = read_split(model, root, 'train', rgb)
    with torch.no_grad():
        feats = model.extract_feat(inputs)[-1]
        design = torch.cat([feats, torch.ones(len(feats), 1)], 1)
        solution = torch.linalg.pinv(design) @ torch.eye(3)[labels]
        model.head.fc.weight.copy_(solution[:-1].T)
        model.head.fc.bias.copy_(solution[-1])


def own_top1(model, root, rgb=False):
    """An original model's test top-1 on images read by :func:`read_split`."""
    inputs, labels = read_split(model, root, 'test', rgb)
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
    return 100 * (logits.argmax(1) == labels).float().mean().item()


def backbone_stage_means(model, inputs):
    """GAP of every res_layer's output, taken by forward hooks on ``model.backbone``."""
    outputs = []
    hooks = [getattr(model.backbone, name).register_forward_hook(
        lambda module, args, out: outputs.append(out.mean((2, 3))))
        for name in model.backbone.res_layers]
    with torch.no_grad():
        model.backbone(inputs)
    for hook in hooks:
        hook.remove()
    return outputs


@pytest.mark.parametrize('which', ['cds', 'mmp'])
def test_features_are_the_stage_outputs(which, colour_root, checkpoints):
    config = dict(cds=CDS, mmp=MMP)[which]
    cfg = tiny_cfg(config)
    pipeline, prepended = sp.eval_pipeline(cfg, which)
    assert prepended == (which == 'mmp')  # mmpretrain's CIFAR10 reads no files
    model, info = sp.build_stage_model(cfg, checkpoints[which], which,
                                       flip_channels=prepended)
    assert (info['num_stages'], info['head_stage']) == (4, 3)
    dataset = sp.class_folder_dataset(colour_root, 'test', pipeline, None)
    features = sp.extract_features(model, dataset, batch_size=5)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    original = checkpoints[f'{which}_model']
    if which == 'mmp':  # trained on RGB arrays: give it RGB, as its data set did
        batch['inputs'] = [x.flip(0) for x in batch['inputs']]
    inputs = original.data_preprocessor(batch, False)['inputs']
    expected = backbone_stage_means(original, inputs)
    assert len(features['features']) == 4
    for ours, theirs in zip(features['features'], expected):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        logits = original(inputs, mode='tensor')
    np.testing.assert_allclose(features['logits'], logits.numpy(), rtol=1e-5,
                               atol=1e-6)
    assert features['labels'].tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_every_stage_is_probed_on_its_own_features(colour_root, checkpoints, tmp_path,
                                                  monkeypatch):
    """The CLI fits and scores stage k's probe on stage k's pooled features (taken
    here by forward hooks on the original model), stages 1-3 too, whose features the
    head never reads."""
    probed = []
    probe = sp.linear_probe
    monkeypatch.setattr(sp, 'linear_probe', lambda train_x, train_y, test_x, test_y,
                        *args: probed.append((train_x, test_x)) or
                        probe(train_x, train_y, test_x, test_y, *args))
    run_tool(colour_root, tmp_path, ('CDS', CDS, checkpoints['cds']),
             extra=['--tsne-samples', '0'])
    original = checkpoints['cds_model']
    expected = [backbone_stage_means(original, read_split(original, colour_root,
                                                          split)[0])
                for split in ('train', 'test')]
    assert len(probed) == 4
    for stage, ((train_x, test_x), train, test) in enumerate(zip(probed, *expected), 1):
        for split, ours, theirs in (('train', train_x, train), ('test', test_x, test)):
            assert ours.shape == tuple(theirs.shape), \
                f'stage {stage} was probed on {split} features of shape {ours.shape}; ' \
                f'its own are {tuple(theirs.shape)}'
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=f'stage {stage}, {split} split')


@pytest.mark.parametrize('config', [
    'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py',
    'configs/dsn/resnet18-w16_1xb64_cifar10-jpg.py',
    'configs/dks/resnet18-w16_1xb64_cifar10-jpg.py',
    'configs/dhm/resnet18-w16_1xb64_cifar10-jpg.py',
    'configs/selfcon/resnet18-w16_1xb64_cifar10-jpg.py'])
def test_our_classifiers_load(config, tmp_path):
    cfg = tiny_cfg(config)
    model = seeded_model(tiny_cfg(config), seed=5)
    path = save_checkpoint(model, tmp_path / 'x.pth')
    stage_model, info = sp.build_stage_model(cfg, path, 'm')
    inputs = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours = stage_model.classifier.backbone(inputs)
        theirs = model.backbone(inputs)
    assert len(ours) == 4 and len(theirs) == len(model.backbone.out_indices)
    torch.testing.assert_close(ours[-1], theirs[-1])
    # the exits and projection heads of a method are left out, named
    assert bool(info['ignored']) == (config.split('/')[1] != 'ce'), info['ignored']


def test_distiller_checkpoint_loads_without_its_teacher(checkpoints, tmp_path):
    # A CDSDistiller's checkpoint is its CDS student plus feat_adapters.*; the probe
    # needs no teacher (its config's teacher checkpoint is not given here).
    cfg = tiny_cfg('configs/distill/resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg.py')
    path = save_checkpoint(checkpoints['cds_model'], tmp_path / 'd.pth',
                           extra={'feat_adapters.stage1.weight': torch.zeros(4, 4)})
    _, info = sp.build_stage_model(cfg, path, 'KD')
    assert info['ignored'] == ['cds_neck', 'feat_adapters']


def test_refusals(colour_root, checkpoints, tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*nope'):
        run_tool(colour_root, tmp_path, ('A', CDS, str(tmp_path / 'nope.pth')))
    with pytest.raises(FileNotFoundError, match='config file not found'):
        run_tool(colour_root, tmp_path, ('A', 'configs/nope.py', 'none'))
    empty = tmp_path / 'empty'
    (empty / 'train').mkdir(parents=True)
    (empty / 'test').mkdir()
    (empty / 'train' / 'loose.png').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='has no class folders with images'):
        run_tool(str(empty), tmp_path, ('A', CDS, 'none'))
    with pytest.raises(FileNotFoundError, match='no split folder'):
        run_tool(str(tmp_path / 'missing'), tmp_path, ('A', CDS, 'none'))
    # a checkpoint of another width: refused, naming the tensor and both shapes
    wide = sp.load_config(CDS)
    with pytest.raises(ValueError, match=r'does not fit the config: .* has shape'):
        sp.build_stage_model(wide, checkpoints['cds'], 'A')
    # a backbone without stages to tell apart
    with pytest.raises(ValueError, match=r'A\.backbone: LeNet5 has neither'):
        sp.count_stages(MODELS.build(dict(type='LeNet5')), 'A')
    with pytest.raises(SystemExit):
        tool.parse_args(['--model', 'A', CDS, 'none', '--model', 'A', CDS, 'none'])
    # One name per method, one checkpoint per seed: allowed.
    seeds = tool.parse_args(['--model', 'A', CDS, 's0.pth', '--model', 'A', CDS,
                             's1.pth'])
    assert [m[2] for m in seeds.model] == ['s0.pth', 's1.pth']


def test_reference_refused_for_other_classes():
    info = dict(random_init=False, num_classes=3, checkpoint_classes=['x', 'y', 'z'],
                seed=0)
    logits, labels = np.eye(3), np.arange(3)
    assert sp.classifier_reference(info, logits, labels, ['x', 'y', 'z']) == (100., '')
    top1, why = sp.classifier_reference(info, logits, labels, ['a', 'b', 'c'])
    assert top1 is None and 'trained on the classes' in why


def test_group_summary_over_seeds_on_hand_numbers():
    """Names given twice (two seeds): mean ± sd per stage and the paired difference
    to the first name, seed k with seed k."""
    from mmcds.experiments.stage_probe_report import group_summary

    def result(name, stage_top1, classifier):
        return dict(name=name, probe=[dict(top1=t, se=.5, converged=True)
                                      for t in stage_top1],
                    classifier_top1=classifier)

    lines = group_summary([result('CE', [40., 50.], 44.), result('CE', [42., 52.], 46.),
                           result('CDS', [41., 53.], 47.),
                           result('CDS', [42., 54.], 48.)])
    table = [row for row in '\n'.join(lines).splitlines() if row.startswith('| ')]
    # CE: stage 1 mean 41, sd sqrt(2); CDS - CE: stage 2 differences 3, 2 -> mean 2.5,
    # sd 0.7071, t(0.975, 1) = 12.7062 -> half width 6.3531.
    assert table[0] == '| model | n | stage 1 | stage 2 | classifier |'
    assert table[1] == '| CE | 2 | 41.00 ± 1.41 | 51.00 ± 1.41 | 45.00 ± 1.41 |'
    assert table[3] == ('| CDS − CE | 2 | +0.50 [-5.85, +6.85] | +2.50 [-3.85, +8.85] '
                        '| +2.50 [-3.85, +8.85] |')
    assert group_summary([result('CE', [40.], 44.), result('CDS', [41.], 45.)]) == []
