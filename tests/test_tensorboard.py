"""TensorBoard through mmengine's visualizer.vis_backends (issue #16, 3): the recipes
of README.md ("Logging to TensorBoard") write event files in which every per-stage CDS
loss is its own scalar."""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401  the 'mmcds::' scope

pytest.importorskip(
    'tensorboard', reason='tensorboard is an optional dependency '
    '(requirements/optional.txt): pip install tensorboard')
from tensorboard.backend.event_processing.event_accumulator import \
    EventAccumulator  # noqa: E402

LOSSES = ['loss'] + [f'loss_cds_stage{k}' for k in range(1, 5)]
RECIPE = ("visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), "
          "dict(type='TensorboardVisBackend')])\n")


def test_a_few_iterations_log_every_cds_loss_to_tensorboard(tmp_path, monkeypatch,
                                                           cifar10_root):
    """The README's recipe in a user's config (TensorBoard next to the JSON logs)."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / 'cds_tensorboard.py'
    config.write_text(
        "_base_ = 'mmcds::cds/resnet18-w16_1xb64_cifar10-jpg.py'\n" + RECIPE +
        f"train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,"
        f" dataset=dict(data_root={cifar10_root!r}, indices=24))\n"
        "train_cfg = dict(max_epochs=1, val_interval=10)\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        f"work_dir = {str(tmp_path / 'work')!r}\n")
    cfg = Config.fromfile(str(config))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()

    events = glob.glob(osp.join(runner.log_dir, 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1, events
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    assert set(LOSSES) <= set(accumulator.Tags()['scalars'])
    # the JSON logs are still written, with the same numbers (two independent writers)
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    for tag in LOSSES:
        logged = [(e.step, e.value) for e in accumulator.Scalars(tag)]
        expected = [(r['step'], r[tag]) for r in records if tag in r]
        assert len(logged) == 3 == len(expected), tag  # 24 images / 8 per batch
        for (step, value), (step_json, value_json) in zip(logged, expected):
            assert step == step_json and value == pytest.approx(value_json, rel=1e-6)
    stage_curves = [[e.value for e in accumulator.Scalars(f'loss_cds_stage{k}')]
                    for k in range(1, 5)]
    assert len({tuple(curve) for curve in stage_curves}) == 4, 'one curve per stage'


def test_command_line_switch():
    """`--cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend` (what
    tools/train.py merges) swaps the local backend for TensorBoard."""
    cfg = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py')
    cfg.merge_from_dict({'visualizer.vis_backends.0.type': 'TensorboardVisBackend'})
    assert cfg.visualizer.vis_backends == [dict(type='TensorboardVisBackend')]
    from mmengine.registry import VISBACKENDS
    from mmengine.visualization import TensorboardVisBackend
    backend = VISBACKENDS.build(dict(cfg.visualizer.vis_backends[0], save_dir='unused'))
    assert isinstance(backend, TensorboardVisBackend)
