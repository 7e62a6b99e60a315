"""Reliability, round 3 (issue #24, item 3): a detector whose head has more or fewer
classes than the data set's categories is refused at start, naming the field; the
shipped coco128 detectors through Runner.from_cfg on the real coco128 (80 COCO
categories). Without the check, 90 classes trained silently and 20 failed at
iteration 2 with "Target 58 is out of bounds"."""
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401

FIELDS = {
    'configs/det/retinanet_r18-w16_fpn_coco128.py': 'model.bbox_head.num_classes',
    'configs/det/faster_rcnn_r18-w16_fpn_coco128.py':
        'model.roi_head.bbox_head.num_classes',
}


@pytest.mark.parametrize('num_classes', [90, 20])
@pytest.mark.parametrize('config', sorted(FIELDS))
def test_detection_head_classes_must_match_the_categories(
        config, num_classes, tmp_path, coco128_root):
    field = FIELDS[config]
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path),
        'model.backbone.init_cfg': None,  # from scratch: no pretrained file needed
        field: num_classes,
        'train_dataloader.dataset.data_root': coco128_root,
        'train_dataloader.dataset.indices': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 1,
    })
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'ClassCheckHook: {field}={num_classes} but '
                       r'train_dataloader.dataset has 80 classes \(CocoDataset\(.*\)\); '
                       rf'set {field}=80$'):
        runner.train()
    assert runner.iter == 0
