"""SemiSupervisedDataset and SemiSupervisedBatchSampler on a real class-folder data set
the test writes, and the semi-supervised configs."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.registry import DATA_SAMPLERS, DATASETS, MODELS
from PIL import Image

import mmcds  # noqa: F401

COUNTS = {'a': 20, 'b': 10, 'c': 7}  # images per class folder


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('semi')
    rng = np.random.default_rng(0)
    for name, count in COUNTS.items():
        (root / name).mkdir()
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
                root / name / f'{i:02d}.png')
    return str(root)


def wrapped(folder, **kwargs):
    return DATASETS.build(dict(
        type='SemiSupervisedDataset',
        dataset=dict(type='CustomDataset', data_root=folder, with_label=True,
                     pipeline=[dict(type='LoadImageFromFile'),
                               dict(type='PackInputs')]),
        **kwargs))


def test_fraction_keeps_labels_per_class_seeded(folder):
    data = wrapped(folder, labelled_fraction=0.3, seed=1)
    labels = np.asarray(data.dataset.get_gt_labels())
    kept = data.labelled_indices
    # round(0.3 * n) per class, at least one: 6, 3, 2.
    assert [int((labels[kept] == k).sum()) for k in range(3)] == [6, 3, 2]
    assert len(data) == 37 and len(data.unlabelled_indices) == 37 - 11
    assert np.array_equal(kept, wrapped(folder, labelled_fraction=0.3, seed=1)
                          .labelled_indices)
    assert not np.array_equal(kept, wrapped(folder, labelled_fraction=0.3, seed=2)
                              .labelled_indices)
    # Labelled images keep their label through the pipeline; the others get -1.
    for idx in range(len(data)):
        label = int(data[idx]['data_samples'].gt_label)
        assert label == (labels[idx] if data.is_labelled(idx) else -1)
    assert (data.dataset.get_data_info(int(data.unlabelled_indices[0]))['gt_label']
            >= 0)  # the wrapped data set itself is untouched


def test_list_of_indices_or_paths_and_drop_unlabelled(folder, tmp_path):
    data = wrapped(folder, labelled_list=[0, 25, 'c/03.png'])
    # CustomDataset orders by class folder, then file: a=0..19, b=20..29, c=30..36.
    assert data.labelled_indices.tolist() == [0, 25, 33]
    listing = tmp_path / 'labelled.txt'
    listing.write_text('0\nb/05.png\nc/03.png\n')
    assert wrapped(folder, labelled_list=str(listing)).labelled_indices.tolist() == \
        [0, 25, 33]
    only = wrapped(folder, labelled_list=[0, 25, 33], drop_unlabelled=True)
    assert len(only) == 3 and len(only.unlabelled_indices) == 0
    assert [int(only[i]['data_samples'].gt_label) for i in range(3)] == [0, 1, 2]


def test_wrapper_errors_name_the_field(folder):
    with pytest.raises(ValueError, match='give exactly one of them'):
        wrapped(folder)
    with pytest.raises(ValueError, match='labelled_fraction: must be in'):
        wrapped(folder, labelled_fraction=0)
    with pytest.raises(ValueError, match=r"not in the data set, e.g. \['x/1.png'\]"):
        wrapped(folder, labelled_list=['x/1.png'])
    with pytest.raises(FileNotFoundError, match='labelled_list: no file'):
        wrapped(folder, labelled_list='/nonexistent/list.txt')


def batches(data, batch_size, num_labelled, epoch=0, seed=3):
    sampler = DefaultSampler(data, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    batch_sampler = DATA_SAMPLERS.build(dict(
        type='SemiSupervisedBatchSampler', sampler=sampler, batch_size=batch_size,
        num_labelled=num_labelled))
    return batch_sampler, list(batch_sampler)


def test_batches_mix_labelled_and_unlabelled_at_the_ratio(folder):
    data = wrapped(folder, labelled_fraction=0.3, seed=0)  # 11 labelled, 26 not
    labelled = set(data.labelled_indices.tolist())
    sampler, epoch0 = batches(data, batch_size=6, num_labelled=2)
    # An epoch is one pass over the unlabelled images, 4 per batch: 26 // 4 = 6.
    assert len(sampler) == len(epoch0) == 6
    for batch in epoch0:
        assert len(batch) == 6
        assert sum(i in labelled for i in batch) == 2
    unlabelled_seen = [i for b in epoch0 for i in b if i not in labelled]
    assert len(set(unlabelled_seen)) == 24  # no repeats; the last 2 dropped
    labelled_seen = [i for b in epoch0 for i in b if i in labelled]
    # 12 labelled draws from 11 images: every image once before any repeats.
    assert set(labelled_seen[:11]) == labelled
    assert batches(data, 6, 2, epoch=0)[1] == epoch0
    assert batches(data, 6, 2, epoch=1)[1] != epoch0
    with pytest.raises(ValueError, match='num_labelled: must be in 1..5'):
        batches(data, 6, 6)
    with pytest.raises(ValueError, match='wrap it in'):
        DATA_SAMPLERS.build(dict(type='SemiSupervisedBatchSampler',
                                 sampler=DefaultSampler(data.dataset),
                                 batch_size=6, num_labelled=2))


def test_under_exact_resume_sampler_batches_carry_seeds_and_can_skip(folder):
    """With the data bases' ExactResumeSampler, each index is a SeededIndex of the
    sampler's seed and epoch; a labelled image drawn again in the epoch is a new draw
    (its own augmentation); skip_next_batches leaves out the first batches once."""
    from mmcds.datasets import ExactResumeSampler, SeededIndex
    data = wrapped(folder, labelled_fraction=0.3, seed=0)  # 11 labelled, 26 not
    sampler = ExactResumeSampler(data, seed=3)
    sampler.set_epoch(2)
    batch_sampler = DATA_SAMPLERS.build(dict(
        type='SemiSupervisedBatchSampler', sampler=sampler, batch_size=6,
        num_labelled=2))
    epoch = list(batch_sampler)
    indices = [i for batch in epoch for i in batch]
    assert all(isinstance(i, SeededIndex) and (i.seed, i.epoch) == (3, 2)
               for i in indices)
    # 12 labelled draws from 11 images: the 12th repeats the first pass's image
    labelled = [i for batch in epoch for i in batch[:2]]
    assert [i.draw for i in labelled] == [0] * 11 + [1]
    assert int(labelled[11]) in [int(i) for i in labelled[:11]]
    assert labelled[11].sample_seed() != next(
        i for i in labelled if int(i) == int(labelled[11])).sample_seed()
    assert [i.draw for batch in epoch for i in batch[2:]] == [0] * 24
    batch_sampler.skip_next_batches(4)
    assert list(batch_sampler) == epoch[4:] and list(batch_sampler) == epoch


def test_a_mixed_batch_trains_cds_with_ce_on_labelled_images_only(folder):
    """The real collate and preprocessor path: labels -1 reach the model, CE takes the
    labelled images only."""
    cfg = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py')
    pipeline = cfg.train_dataloader.dataset.dataset.pipeline
    data = DATASETS.build(dict(
        cfg.train_dataloader.dataset,
        dataset=dict(type='CustomDataset', data_root=folder, pipeline=pipeline)))
    _, epoch0 = batches(data, batch_size=6, num_labelled=2)
    batch = default_collate([data[i] for i in epoch0[0]])
    model = MODELS.build(dict(cfg.model, head=dict(cfg.model.head, num_classes=3),
                              data_preprocessor=dict(cfg.data_preprocessor,
                                                     num_classes=3)))
    processed = model.data_preprocessor(batch, training=True)
    labels = [int(s.gt_label) for s in processed['data_samples']]
    assert sorted(labels)[:4] == [-1] * 4 and min(labels[:2]) >= 0
    losses = model(**processed, mode='loss')
    assert set(losses) == {'loss', 'loss_cds_stage1', 'loss_cds_stage2',
                           'loss_cds_stage3', 'loss_cds_stage4'}
    model.eval()
    with torch.no_grad():
        logits = model(processed['inputs'][0], mode='tensor')
        expected = torch.nn.functional.cross_entropy(logits[:2], torch.tensor(labels[:2]))
        assert model(**processed, mode='loss')['loss'].item() == pytest.approx(
            expected.item(), rel=1e-5)


@pytest.mark.parametrize('config, num_labelled', [
    ('configs/cds/resnet18_1xb128_cifar100_10pct-labels.py', 16),
    ('configs/cds/resnet50_8xb32_in1k_10pct-labels.py', 4),
    ('configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py', 8),
])
def test_semi_supervised_configs_wrap_their_training_set(config, num_labelled):
    cfg = Config.fromfile(config)
    plain = Config.fromfile(config.replace('_10pct-labels', ''))
    loader = cfg.train_dataloader
    assert loader.dataset.type == 'SemiSupervisedDataset'
    assert (loader.dataset.labelled_fraction, loader.dataset.seed) == (0.1, 0)
    assert loader.dataset.dataset == plain.train_dataloader.dataset
    assert loader.batch_sampler == dict(type='SemiSupervisedBatchSampler',
                                        num_labelled=num_labelled)
    assert loader.batch_size // num_labelled == 8  # 1 labelled : 7 unlabelled
    assert cfg.model == plain.model and cfg.val_dataloader == plain.val_dataloader


def test_the_ce_baseline_trains_on_the_same_labelled_images_alone():
    ce = Config.fromfile('configs/ce/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py')
    cds = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py')
    ce_data, cds_data = ce.train_dataloader.dataset, cds.train_dataloader.dataset
    assert ce_data.drop_unlabelled is True and 'batch_sampler' not in ce.train_dataloader
    for key in ('labelled_fraction', 'seed'):
        assert ce_data[key] == cds_data[key]
    assert ce_data.dataset.data_root == cds_data.dataset.data_root
    assert ce_data.dataset.pipeline == cds_data.dataset.pipeline[:1] + \
        cds_data.dataset.pipeline[1]['transforms'][0] + cds_data.dataset.pipeline[2:]


# ------------------------------------------------- the shipped configs' train loaders
# (issue #24, item 1) Each *10pct-labels config's train loader, built as the runner
# builds it (Runner.build_dataloader: ExactResumeSampler, SemiSupervisedBatchSampler),
# on a tiny stand-in of its data in the data set's real format.
CIFAR10_JPG_CONFIGS = ['configs/ce/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py',
                       'configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py']


def cifar100_stand_in(root, num_classes=20, per_class=7):
    """``cifar-100-python/{train,test,meta}`` as the original archive holds them
    (pickled dicts of uint8 rows), with 7 random images of 20 classes."""
    import pickle
    folder = root / 'cifar-100-python'
    folder.mkdir()
    rng = np.random.default_rng(0)
    labels = [c for c in range(num_classes) for _ in range(per_class)]
    for split in ('train', 'test'):
        data = rng.integers(0, 255, (len(labels), 3 * 32 * 32), dtype=np.uint8)
        with open(folder / split, 'wb') as f:
            pickle.dump({'data': data, 'fine_labels': labels}, f)
    with open(folder / 'meta', 'wb') as f:
        pickle.dump({'fine_label_names': [f'c{i}' for i in range(100)]}, f)
    return str(root)


def imagenet_stand_in(root, num_classes=4, per_class=10):
    """``train/<wnid>/*.JPEG`` and ``meta/train.txt`` (path and label a line), as
    mmpretrain's ImageNet reads them, with 10 small JPEGs of 4 classes."""
    rng = np.random.default_rng(0)
    lines = []
    for label in range(num_classes):
        wnid = f'n0000000{label}'
        (root / 'train' / wnid).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
                root / 'train' / wnid / f'{wnid}_{i}.JPEG')
            lines.append(f'{wnid}/{wnid}_{i}.JPEG {label}')
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text('\n'.join(lines) + '\n')
    return str(root)


@pytest.mark.parametrize('config', CIFAR10_JPG_CONFIGS + [
    'configs/cds/resnet18_1xb128_cifar100_10pct-labels.py',
    'configs/cds/resnet50_8xb32_in1k_10pct-labels.py'])
def test_semi_supervised_config_builds_and_seeds_its_train_loader(
        config, tmp_path, monkeypatch):
    from mmengine.runner import Runner

    from mmcds.datasets import ExactResumeSampler, SemiSupervisedBatchSampler
    cfg = Config.fromfile(config)
    inner = cfg.train_dataloader.dataset.dataset
    if 'cifar10-jpg' in config:
        from conftest import shared_data
        inner.data_root = shared_data('cifar10')
        inner.indices = [c * 1000 + i for c in range(10) for i in range(7)]
    elif 'cifar100' in config:
        inner.data_root = cifar100_stand_in(tmp_path)
        # the stand-in's files cannot have the original archive's checksums
        monkeypatch.setattr('mmpretrain.datasets.cifar.check_md5', lambda *a: True)
    else:
        inner.data_root = imagenet_stand_in(tmp_path)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False)
    semi = 'batch_sampler' in cfg.train_dataloader
    batch_size = cfg.train_dataloader.batch_size

    def first_batch():
        loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader), seed=0)
        return loader, next(iter(loader))

    loader, batch = first_batch()
    sampler = loader.batch_sampler.sampler if semi else loader.sampler
    assert isinstance(sampler, ExactResumeSampler)
    labels = [int(sample.gt_label) for sample in batch['data_samples']]
    if semi:
        assert isinstance(loader.batch_sampler, SemiSupervisedBatchSampler)
        num_labelled = cfg.train_dataloader.batch_sampler.num_labelled
        # 1 labelled : 7 unlabelled, the labelled ones first
        assert len(labels) == batch_size and labels.count(-1) == batch_size - num_labelled
        assert min(labels[:num_labelled]) >= 0
    else:  # the CE baseline: the labelled 10% alone (1 image of each of 10 classes)
        assert sorted(labels) == list(range(10))
    # the augmentation is seeded per sample: a second loader gives the same tensors
    _, again = first_batch()
    views, views_again = (b['inputs'] if isinstance(b['inputs'], list)
                          else [b['inputs']] for b in (batch, again))
    assert len(views) == len(views_again) == (2 if semi else 1)
    assert all(torch.equal(a, b) for a, b in zip(views, views_again))


# 30 CIFAR-10 JPEGs (3 a class) of which 10 keep their labels (1 a class); batches of
# 2 labelled + 6 unlabelled: 20 // 6 = 3 iterations an epoch, 9 in all; checkpoints
# at iterations 4 (inside epoch 2) and 8 (inside epoch 3).
SEMI_OPTIONS = {
    'train_dataloader.dataset.dataset.indices':
        [c * 1000 + i for c in range(10) for i in range(3)],
    'train_dataloader.batch_size': 8,
    'train_dataloader.batch_sampler.num_labelled': 2,
    'train_dataloader.persistent_workers': False,
    'train_cfg.max_epochs': 3,
    'default_hooks.logger.interval': 1,
    'default_hooks.checkpoint.by_epoch': False,
    'default_hooks.checkpoint.interval': 4,
    'default_hooks.checkpoint.max_keep_ckpts': 5,
    'randomness.deterministic': True,
}
SEMI_CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg_10pct-labels.py'


def test_sigkill_then_resume_of_a_semi_supervised_config_is_bit_identical(
        tmp_path, cifar10_root, monkeypatch):
    """A real tools/train.py run of the shipped semi-supervised CDS config (2
    dataloader workers) killed after its first checkpoint, inside epoch 2, and
    resumed with --resume ends with the weights of an uninterrupted run built with
    Runner.from_cfg (0 workers)."""
    from mmengine.runner import Runner

    from test_reliability_resume import (resume_in_this_process,
                                         sigkill_after_first_checkpoint,
                                         train_command)
    options = dict(SEMI_OPTIONS, **{
        'train_dataloader.dataset.dataset.data_root': cifar10_root})
    cfg = Config.fromfile(SEMI_CDS)
    cfg.merge_from_dict(dict(options, **{'train_dataloader.num_workers': 0}))
    cfg.work_dir = str(tmp_path / 'reference')
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.use_deterministic_algorithms(deterministic)
    reference = torch.load(tmp_path / 'reference' / 'iter_9.pth')['state_dict']

    cli = ['--no-validate', '--cfg-options', 'train_dataloader.num_workers=2',
           *(f'{key}={",".join(map(str, value)) if isinstance(value, list) else value}'
             for key, value in options.items())]
    work_dir = tmp_path / 'work'
    pid = sigkill_after_first_checkpoint(train_command(SEMI_CDS, work_dir, *cli),
                                         work_dir)
    assert not (work_dir / 'iter_9.pth').exists()
    # the killed run's work_dir lock is taken over, naming the run that is gone
    with pytest.warns(UserWarning, match=rf'taking over .*train.lock from a run that '
                      rf'is gone: PID {pid} '):
        output = resume_in_this_process(SEMI_CDS, work_dir, monkeypatch, *cli)
    assert 'ExactResumeHook: resumed inside epoch' in output, output[-3000:]
    assert 'repeats the epoch' not in output
    state = torch.load(work_dir / 'iter_9.pth')['state_dict']
    different = [key for key, value in reference.items()
                 if not torch.equal(state[key], value)]
    assert not different, f'{len(different)} of {len(reference)} tensors differ, ' \
                          f'e.g. {different[:3]}'
