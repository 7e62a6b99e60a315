"""Reliability (issue #15, item 5): a bad image file is named with its data set, and
every bad file of a class-folder or COCO set can be listed before training."""
import copy
import os
import os.path as osp
import shutil
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmcds  # noqa: F401
from conftest import load_tool
from mmcds.datasets import SampleLoadError, check_config_data, wrap_pipeline
from test_reliability import CLASSES, TINY_CE, class_folder_copy, tiny_runner_cfg




def broken_copy(cifar10_root, root):
    """Class folders with one corrupt JPEG (truncated header) and one zero-byte
    JPEG in train/."""
    root = class_folder_copy(cifar10_root, root, per_class=2, splits=('train', ))
    corrupt = osp.join(root, 'train', 'cat', 'corrupt.jpg')
    with open(osp.join(cifar10_root, 'train', 'cat', '0000.jpg'), 'rb') as f:
        data = f.read()
    with open(corrupt, 'wb') as f:
        f.write(b'\x00' * 16 + data[16:64])
    empty = osp.join(root, 'train', 'dog', 'empty.jpg')
    open(empty, 'wb').close()
    return root, corrupt, empty


@pytest.mark.parametrize('kind, num_workers', [('corrupt', 0), ('empty', 0),
                                               ('empty', 2)])
def test_bad_image_error_names_file_and_dataset(tmp_path, cifar10_root, kind,
                                                num_workers):
    root, corrupt, empty = broken_copy(cifar10_root, tmp_path / 'data')
    bad = corrupt if kind == 'corrupt' else empty
    # only the bad file and one good one, so the error comes in the first batch
    good = osp.join(root, 'train', 'airplane',
                    sorted(os.listdir(osp.join(root, 'train', 'airplane')))[0])
    ann = tmp_path / 'ann.txt'
    ann.write_text(f'{osp.relpath(good, osp.join(root, "train"))} 0\n'
                   f'{osp.relpath(bad, osp.join(root, "train"))} 3\n')
    cfg = tiny_runner_cfg(TINY_CE, tmp_path / 'work', root, **{
        'train_dataloader.dataset.ann_file': str(ann),
        'train_dataloader.dataset.data_prefix': 'train',
        'train_dataloader.dataset.metainfo': dict(classes=CLASSES),
        'train_dataloader.num_workers': num_workers,
    })
    runner = Runner.from_cfg(cfg)
    with pytest.raises(Exception) as error:
        runner.train()
    message = str(error.value).strip().splitlines()[-1]
    assert bad in message, message
    assert 'train_dataloader.dataset = CustomDataset(' in message
    assert ('is empty (0 bytes)' if kind == 'empty' else 'cannot be decoded') in message


def coco_copy(coco128_root, root, num_images=4):
    """COCO json + image folder with the first ``num_images`` train images."""
    import json
    with open(osp.join(coco128_root, 'annotations', 'instances_train2017.json')) as f:
        coco = json.load(f)
    with_boxes = {a['image_id'] for a in coco['annotations']}
    images = [im for im in coco['images'] if im['id'] in with_boxes][:num_images]
    ids = {im['id'] for im in images}
    coco['images'] = images
    coco['annotations'] = [a for a in coco['annotations'] if a['image_id'] in ids]
    os.makedirs(osp.join(root, 'annotations'))
    os.makedirs(osp.join(root, 'train2017'))
    with open(osp.join(root, 'annotations', 'instances_train2017.json'), 'w') as f:
        json.dump(coco, f)
    for im in images:
        shutil.copy(osp.join(coco128_root, 'train2017', im['file_name']),
                    osp.join(root, 'train2017', im['file_name']))
    return str(root), [im['file_name'] for im in images]


def test_missing_coco_image_is_named_with_its_dataset(tmp_path, coco128_root):
    from mmdet.registry import DATASETS as DET_DATASETS
    from mmengine.registry import DefaultScope
    root, files = coco_copy(coco128_root, tmp_path / 'coco')
    os.remove(osp.join(root, 'train2017', files[1]))
    cfg = Config.fromfile('configs/det/faster_rcnn_r18-w16_fpn_coco128.py')
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = root
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DET_DATASETS.build(dataset_cfg)
        wrap_pipeline(dataset, 'train_dataloader.dataset')
        dataset[0]
        index = next(i for i in range(len(dataset))
                     if dataset.get_data_info(i)['img_path'].endswith(files[1]))
        with pytest.raises(SampleLoadError) as error:
            dataset[index]
    message = str(error.value)
    assert 'train_dataloader.dataset = CocoDataset(' in message
    assert osp.join(root, 'train2017', files[1]) + ' does not exist' in message


def test_check_data_tool_lists_every_bad_file_of_both_formats(
        tmp_path, cifar10_root, coco128_root, monkeypatch, capsys):
    """tools/misc/check_data.py (its main(), in this process) on a class-folder set,
    the function behind it on a COCO set."""
    root, corrupt, empty = broken_copy(cifar10_root, tmp_path / 'data')
    os.makedirs(osp.join(root, 'train', 'zebra'))  # empty class folder
    check_data = load_tool('misc/check_data')
    monkeypatch.setattr(sys, 'argv', [
        'tools/misc/check_data.py', TINY_CE, '--splits', 'train', '--cfg-options',
        f'train_dataloader.dataset.data_root={root}'])
    with pytest.raises(SystemExit) as error:
        check_data.main()
    assert error.value.code == 1
    out = capsys.readouterr().out
    assert f'{corrupt}: cannot be decoded' in out
    assert f'{empty}: is empty (0 bytes)' in out
    assert osp.join(root, 'train', 'zebra') + ': empty class folder' in out
    assert '3 problem(s) in 22 samples' in out

    # COCO
    coco, files = coco_copy(coco128_root, tmp_path / 'coco')
    os.remove(osp.join(coco, 'train2017', files[2]))
    open(osp.join(coco, 'train2017', files[3]), 'wb').close()
    cfg = Config.fromfile('configs/det/faster_rcnn_r18-w16_fpn_coco128.py')
    cfg.train_dataloader.dataset.data_root = coco
    report, total = check_config_data(cfg, ['train'], workers=2)
    assert total == 2, report
    assert osp.join(coco, 'train2017', files[2]) + ': does not exist' in report
    assert osp.join(coco, 'train2017', files[3]) + ': is empty (0 bytes)' in report
    assert 'train_dataloader.dataset = CocoDataset(' in report
    assert '2 problem(s) in 4 samples' in report


def test_train_tool_check_data_stops_before_training(tmp_path, cifar10_root,
                                                     monkeypatch, capsys):
    """tools/train.py --check-data, run as its main() in this process."""
    root, corrupt, empty = broken_copy(cifar10_root, tmp_path / 'data')
    train = load_tool('train')
    monkeypatch.setattr(Runner, 'from_cfg', classmethod(
        lambda cls, cfg: pytest.fail('a runner was built despite bad data')))
    monkeypatch.setattr(sys, 'argv', [
        'tools/train.py', TINY_CE, '--check-data', '--no-validate', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}', 'train_dataloader.num_workers=0'])
    with pytest.raises(SystemExit) as error:
        train.main()
    assert '2 unreadable, missing or empty' in str(error.value)
    out = capsys.readouterr().out
    assert f'{corrupt}: cannot be decoded' in out and f'{empty}: is empty' in out


def test_reliability_hooks_listed_for_a_detector(tmp_path, coco128_root):
    """A detector (no mmpretrain head, an AspectRatioBatchSampler) trains and
    validates with the reliability hooks its config lists, and with ExactResumeHook,
    which the detection configs leave out and a user may add."""
    from test_det_transfer import small_cfg
    cfg = small_cfg('retinanet', None, tmp_path, coco128_root)
    cfg.model.backbone.init_cfg = None
    cfg.custom_hooks.append(dict(type='ExactResumeHook'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    assert type(runner.train_dataloader.dataset.pipeline).__name__ == 'SamplePipeline'
    assert 0 <= runner.message_hub.get_scalar('val/coco/bbox_mAP').current() <= 1
