"""SemiSupervisedDataset and SemiSupervisedBatchSampler on a real class-folder data set
the test writes, and the semi-supervised configs."""
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
