"""tools/compare_methods.py --calibration-holdout: the temperature of the "after TS"
columns is fitted on the held-out training images, not on the test split it is
evaluated on (mmcds.experiments.comparison, run in this process on a class-folder
stand-in written here)."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS

import mmcds  # noqa: F401
from conftest import load_tool
from mmcds.evaluation import fit_temperature
from mmcds.experiments import comparison
from standin_data import write_class_folders

CLASSES = ['ant', 'bee', 'cat', 'dog']


def predictions(model, dataset_cfg):
    """(scores (n, K), labels (n,), image paths) of ``model`` on every image of the
    data set ``dataset_cfg`` builds, one image at a time."""
    dataset = DATASETS.build(dataset_cfg)
    scores, labels, paths = [], [], []
    model.eval()
    for index in range(len(dataset)):
        with torch.no_grad():
            sample, = model.test_step(pseudo_collate([dataset[index]]))
        scores.append(sample.pred_score.numpy())
        labels.append(int(sample.gt_label))
        paths.append(sample.img_path)
    return np.stack(scores), np.array(labels), paths


def test_temperature_is_fitted_on_the_held_out_images(tmp_path):
    # Training images tinted by class, test images not: the model is sure on the
    # held-out training images and guesses on the test split.
    root = write_class_folders(tmp_path / 'data', CLASSES, per_class=6,
                               splits=('train', ), tinted=True)
    write_class_folders(tmp_path / 'data', CLASSES, per_class=3, splits=('test', ))
    args = load_tool('compare_methods').parse_args([
        '--methods', 'ce', '--data-root', root, '--epochs', '1', '--batch-size', '4',
        '--num-workers', '0', '--calibration-holdout', '8', '--work-dir',
        str(tmp_path / 'work')])
    cfg, _ = comparison.build_config(args, 'ce')
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.test()
    result = comparison.temperature_scaled_metrics(runner)

    # The held-out images: 8 of the 24 training images, 2 of every class, none of
    # them trained on.
    held_out = cfg.holdout_dataloader.dataset
    scores, labels, paths = predictions(runner.model, held_out)
    trained = {runner.train_dataloader.dataset.get_data_info(i)['img_path']
               for i in range(len(runner.train_dataloader.dataset))}
    assert len(paths) == 8 and all('/train/' in p for p in paths)
    assert not trained & set(paths) and np.bincount(labels).tolist() == [2] * 4
    on_held_out = fit_temperature(scores, labels)
    test_scores, test_labels, _ = predictions(runner.model, cfg.test_dataloader.dataset)
    on_test = fit_temperature(test_scores, test_labels)
    # The two fits tell the splits apart.
    assert abs(on_held_out - on_test) > 0.1 * on_held_out, (on_held_out, on_test)
    assert result['holdout_size'] == 8
    assert result['temperature'] == pytest.approx(on_held_out, rel=1e-5), \
        f"reported T {result['temperature']}: fitted on the held-out images " \
        f'{on_held_out}, on the test split {on_test}'
