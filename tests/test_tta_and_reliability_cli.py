"""tools/test.py --tta and the reliability CLI on a --out file, checked against what
they claim, computed here independently: the TTA scores are the model's softmax
averaged over the image and its horizontal mirror (the tiny CE config's model with
seeded random weights, on a class-folder stand-in written here), and
tools/analysis_tools/reliability_diagram.py --num-bins N prints the ECE of N
equal-width bins."""
import glob
import re
import sys

import cv2
import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmcds  # noqa: F401
from conftest import ece_by_hand, load_tool, seeded_model
from standin_data import write_class_folders

TINY_CE = 'configs/ce/resnet18-w16_1xb64_cifar10-jpg.py'
CLASSES = [f'class{i}' for i in range(10)]


def tta_model(cfg):
    """The config's model with seeded random weights (conftest.seeded_model) and a
    head 10x the default scale, so that a mirrored image scores otherwise (by >
    0.003 here)."""
    model = seeded_model(cfg, seed=0)
    with torch.no_grad():
        model.head.fc.weight.mul_(10)
    return model


@pytest.fixture(scope='module')
def tta_run(tmp_path_factory):
    """tools/test.py CONFIG CKPT --tta --out preds.pkl, its main() in this process, on
    20 test images (2 of every class); the checkpoint, the model and the dump."""
    tmp = tmp_path_factory.mktemp('tta')
    root = write_class_folders(tmp / 'data', CLASSES, splits=('test', ))
    model = tta_model(Config.fromfile(TINY_CE))
    checkpoint = str(tmp / 'model.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    preds = str(tmp / 'preds.pkl')
    argv = ['tools/test.py', TINY_CE, checkpoint, '--tta', '--out', preds,
            '--work-dir', str(tmp / 'work'), '--cfg-options',
            f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, 'argv', argv)
        load_tool('test').main()
    log, = glob.glob(str(tmp / 'work' / '*' / '*.log'))
    return dict(model=model, preds=preds, dumped=mmengine.load(preds),
                log=open(log).read())


def softmax_of_file(model, path, mirrored):
    """The model's class probabilities for the image file, read with cv2 (BGR),
    turned RGB and normalised with the config's mean and std here."""
    image = cv2.imread(path)
    if mirrored:
        image = image[:, ::-1]
    x = torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(2, 0, 1)
    preprocessor = model.data_preprocessor
    x = (x.float() - preprocessor.mean.cpu()) / preprocessor.std.cpu()
    with torch.no_grad():
        return model(x[None], mode='tensor').softmax(1)[0]


def test_tta_scores_average_the_image_and_its_mirror(tta_run):
    model, dumped = tta_run['model'], tta_run['dumped']
    assert len(dumped) == 20
    correct = []
    for sample in dumped:
        plain = softmax_of_file(model, sample['img_path'], mirrored=False)
        mirrored = softmax_of_file(model, sample['img_path'], mirrored=True)
        # The mirror matters for this model, so a flip that does not flip shows.
        assert (plain - mirrored).abs().max() > 1e-3, sample['img_path']
        expected = (plain + mirrored) / 2
        torch.testing.assert_close(sample['pred_score'].float(), expected, rtol=1e-4,
                                   atol=1e-6, msg=lambda text: f"{sample['img_path']}: "
                                   'the TTA scores are not the mean of the image\'s and '
                                   f'its mirror\'s: {text}')
        correct.append(int(expected.argmax()) == int(sample['gt_label']))
    logged = float(re.search(r'accuracy/top1: ([0-9.]+)', tta_run['log']).group(1))
    assert logged == pytest.approx(100 * np.mean(correct), abs=1e-4)


def write_predictions_as_tools_test_does(path, scores, labels):
    """``tools/test.py --out PATH``'s file: mmengine's DumpResults metric over the
    data samples (pred_score, gt_label) of a test run."""
    from mmengine.evaluator import DumpResults
    from mmpretrain.structures import DataSample
    dump = DumpResults(out_file_path=str(path))
    dump.process(None, [DataSample().set_pred_score(torch.tensor(score))
                        .set_gt_label(label).to_dict()
                        for score, label in zip(scores, labels)])
    dump.evaluate(len(labels))


def test_reliability_cli_prints_the_ece_of_the_bins_it_is_given(tmp_path, capsys):
    """tools/analysis_tools/reliability_diagram.py (its main(), in this process) on a
    file written as tools/test.py --out writes it: 40 predictions, confidences spread
    over (0.5, 1) and correct at other rates than they claim."""
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1., 40)
    labels = rng.integers(0, 2, 40)
    # Two classes: the predicted class (the more likely one) is the label with
    # probability 0.6.
    predicted = np.where(rng.uniform(size=40) < 0.6, labels, 1 - labels)
    scores = np.where(predicted[:, None] == np.arange(2), confidence[:, None],
                      1 - confidence[:, None]).astype(np.float32)
    preds = tmp_path / 'preds.pkl'
    write_predictions_as_tools_test_does(preds, scores, labels.tolist())
    by_bins = {bins: ece_by_hand(scores.max(1), scores.argmax(1) == labels, bins)
               for bins in (5, 15)}
    # The file tells 5 bins from the default 15 at the 2 decimals printed.
    assert abs(by_bins[5] - by_bins[15]) > 0.5, by_bins
    tool = load_tool('analysis_tools/reliability_diagram')
    png = tmp_path / 'reliability.png'
    tool.main([str(preds), '--num-bins', '5', '--out', str(png)])
    printed = capsys.readouterr().out
    assert f'ECE {by_bins[5]:.2f}% over 40 predictions (5 bins)' in printed, \
        (printed, by_bins)
    assert png.read_bytes()[:4] == b'\x89PNG'
