"""Real training runs on the CIFAR-10 JPEGs, in-process through mmengine's Runner (the
user's Python API path; tools/dist_train.sh is run in test_tools_cli.py)."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import Runner

from conftest import (REPO_ROOT, assert_same_state, load_runner_checkpoint,
                      state_after_resume, supcon_by_loops)
from mmcds.experiments import spread_indices

TINY_CDS = 'configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'


def random_supcon(labels: torch.Tensor, batch_size: int, dim: int,
                  draws: int = 200) -> float:
    """The mean of ContrastiveDSLoss (weight 0.1, T 0.07, SupCon) on random unit
    embeddings (2 views) for random batches of ``labels``: what an untrained head
    scores on this data."""
    from mmcds.models.losses import ContrastiveDSLoss
    loss = ContrastiveDSLoss(temperature=0.07, loss_weight=0.1)
    gen = torch.Generator().manual_seed(0)
    values = []
    for _ in range(draws):
        batch = labels[torch.randperm(len(labels), generator=gen)[:batch_size]]
        z = torch.nn.functional.normalize(
            torch.randn(batch_size, 2, dim, generator=gen), dim=2)
        values.append(float(loss(z, batch)))
    return sum(values) / len(values)


def reference_losses(model, views, labels) -> dict:
    """The paper's losses of a CDS model on a two-view batch, written here from the
    model's modules: cross-entropy of the head on view 1 (``view2_loss``: on view 2,
    to tell the two apart) and 0.1 * SupCon (T = 0.07, conftest.supcon_by_loops) of
    every stage's projection-head embeddings of both views. On a copy of ``model``
    (its BN statistics move), in train mode, as the training step runs it."""
    model = copy.deepcopy(model)
    num_images = len(labels)
    with torch.no_grad():
        stages = model.backbone(torch.cat(views))
        logits = model.head.fc(stages[-1].mean((2, 3)))
        losses = {'loss': F.cross_entropy(logits[:num_images], labels).item(),
                  'view2_loss': F.cross_entropy(logits[num_images:], labels).item()}
        for stage, z in enumerate(model.cds_neck(stages), 1):
            z = z.reshape(2, num_images, -1).transpose(0, 1)  # (N, views, D)
            losses[f'loss_cds_stage{stage}'] = 0.1 * supcon_by_loops(z, labels, 0.07)
    return losses


def check_losses_against_reference(runner, iterations) -> dict:
    """Wrap ``runner.model.loss``: at the given iterations (0-based) what it returns
    is compared with :func:`reference_losses` of the same batch; returns
    ``{iteration: (ours, reference)}``, filled as training runs."""
    model, checked = runner.model, {}
    original = model.loss

    def loss(inputs, data_samples):
        reference = None
        if runner.iter in iterations:
            labels = torch.cat([s.gt_label for s in data_samples])
            reference = reference_losses(model, inputs, labels)
        losses = original(inputs, data_samples)
        if reference is not None:
            checked[runner.iter] = ({k: float(v) for k, v in losses.items()}, reference)
        return losses

    model.loss = loss
    return checked


def test_cds_learns_every_class_of_cifar10(tmp_path, cifar10_root):
    """Ten epochs on 80 training images of all ten classes: the loss terms are the
    paper's (cross-entropy on view 1, 0.1 * SupCon at T = 0.07 on every stage, against
    a reference written here, in the first and the last iteration), they go down, the
    model beats chance on those images, and the last stage's SupCon term ends below
    its value for random embeddings."""
    indices = spread_indices(10000, 80)  # 8 images of every class
    cfg = Config.fromfile(TINY_CDS)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path),
        'train_dataloader.dataset.data_root': cifar10_root,
        'train_dataloader.batch_size': 16,  # 5 iterations an epoch
        'train_dataloader.num_workers': 0,
        'train_cfg.max_epochs': 10,
        'param_scheduler.T_max': 10,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 100,
    })
    cfg.train_dataloader.dataset.indices = indices
    # Evaluate on the same training images, with the test pipeline.
    cfg.test_dataloader = dict(
        cfg.test_dataloader.to_dict(), num_workers=0,
        dataset=dict(cfg.test_dataloader.dataset.to_dict(), data_root=cifar10_root,
                     data_prefix='train', indices=indices))
    cfg.test_evaluator = [dict(type='Accuracy', topk=(1, ))]
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    labels = torch.tensor([runner.train_dataloader.dataset.get_cat_ids(i)[0]
                           for i in range(len(indices))])
    assert torch.bincount(labels).tolist() == [8] * 10
    checked = check_losses_against_reference(runner, (0, 49))
    runner.train()
    assert sorted(checked) == [0, 49]
    for iteration, (ours, reference) in checked.items():
        # Ours and the reference agree to ~3e-7 (float32); cross-entropy on view 2
        # differs from view 1's by 10x the tolerance or more (2e-4 in iteration 1).
        assert abs(reference['view2_loss'] - reference['loss']) > 1e-4 * reference['loss']
        for key, value in ours.items():
            assert value == pytest.approx(reference[key], rel=1e-5), \
                f'iteration {iteration + 1}, {key}: {value:.6f}, the paper\'s ' \
                f'{reference[key]:.6f} (cross-entropy on view 2: ' \
                f"{reference['view2_loss']:.6f})"
    history = {key: runner.message_hub.get_scalar(f'train/{key}').data[0]
               for key in ('loss', 'loss_cds_stage1', 'loss_cds_stage4')}
    for key, values in history.items():
        assert len(values) == 50, key
        first, last = values[:5].mean(), values[-5:].mean()
        assert last < first, f'{key}: first epoch {first:.4f}, last epoch {last:.4f}'
    baseline = random_supcon(labels, 16, 128)
    last = history['loss_cds_stage4'][-5:].mean()
    assert last < 0.9 * baseline, (last, baseline)
    top1 = runner.test()['accuracy/top1']
    assert top1 >= 20, f'train top-1 {top1:.1f}% (chance: 10%)'


def test_resume_restores_weights_optimizer_and_scheduler(tmp_path, cifar10_root):
    """A run resumed from its epoch-1 checkpoint starts epoch 2 with exactly the saved
    weights (BN statistics included), SGD momentum buffers and scheduler state."""
    cfg = Config.fromfile(TINY_CDS)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path),
        'train_dataloader.dataset.data_root': cifar10_root,
        'train_dataloader.batch_size': 8,
        'train_dataloader.num_workers': 0,
        'train_cfg.max_epochs': 1,
        'default_hooks.checkpoint.interval': 1,
    })
    cfg.train_dataloader.dataset.indices = spread_indices(10000, 16)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    Runner.from_cfg(cfg.copy()).train()
    checkpoint = osp.join(str(tmp_path), 'epoch_1.pth')
    saved = load_runner_checkpoint(checkpoint)

    cfg.merge_from_dict({'train_cfg.max_epochs': 2, 'resume': True,
                         'load_from': checkpoint})
    resumed = state_after_resume(cfg)
    assert (resumed['epoch'], resumed['iter']) == (1, 2)
    assert_same_state(resumed['model'], saved['state_dict'], 'state_dict')
    assert_same_state(resumed['optimizer'], saved['optimizer'], 'optimizer')
    assert resumed['optimizer']['state'], 'no momentum buffers to compare'
    assert_same_state(resumed['schedulers'], saved['param_schedulers'],
                      'param_schedulers')
    assert saved['param_schedulers'][0]['_global_step'] == 1  # stepped once


def test_imagenet_config_on_an_imagenet_style_folder(tmp_path, cifar10_root):
    """configs/cds/resnet18_8xb32_in1k.py at 224 px on class folders of JPEGs."""
    config = tmp_path / 'cds_r18_folder.py'
    config.write_text(f"""
_base_ = '{REPO_ROOT}/configs/cds/resnet18_8xb32_in1k.py'
model = dict(head=dict(num_classes=10))
data_preprocessor = dict(num_classes=10)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{cifar10_root}', data_prefix='train',
    indices={spread_indices(10000, 8)}, pipeline=_base_.train_pipeline))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='CustomDataset', data_root='{cifar10_root}', data_prefix='test',
    indices={spread_indices(10000, 8)}, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
""")
    # mmengine's own API on the user's config file (tools/train.py runs through
    # tools/dist_train.sh in test_tools_cli.py).
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    logged = set(runner.message_hub.log_scalars)
    for key in ('train/loss_cds_stage1', 'train/loss_cds_stage2', 'train/loss_cds_stage3',
                'train/loss_cds_stage4', 'val/accuracy/top1', 'val/accuracy/top5'):
        assert key in logged, key
    images = runner.train_dataloader.dataset[0]['inputs']
    assert [tuple(view.shape) for view in images] == [(3, 224, 224)] * 2
