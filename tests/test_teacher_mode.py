"""The distillation presets run the teacher as the authors' scripts do: in train mode
while the student trains (ImageNet/KD_Contrastive_Deep_Supervision/main.py:
teacher.train(); CIFAR/distill.py never calls teacher.eval()), so its BN normalises
with batch statistics and its running statistics move; eval mode is our option."""
import glob

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu
from mmpretrain.registry import MODELS

import mmcds  # noqa: F401
from conftest import randomize_state

PRESET = 'configs/distill/resnet18-w16_r18-w32-teacher_1xb64_cifar10-jpg.py'
KD_PRESET = 'configs/distill/resnet18-w16_r18-w32-teacher_kd_1xb64_cifar10-jpg.py'


@pytest.mark.parametrize('config', sorted(glob.glob('configs/distill/*.py')))
def test_every_preset_trains_the_teacher_in_train_mode(config):
    assert Config.fromfile(config).model.teacher_train_mode is True


@pytest.fixture(scope='module')
def teacher_checkpoint(tmp_path_factory):
    """The preset's teacher config with random weights and BN statistics, saved as the
    runner saves a checkpoint."""
    teacher = MODELS.build(Config.fromfile(Config.fromfile(PRESET).model.teacher_config)
                           .model)
    randomize_state(teacher, seed=3)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    save_checkpoint(dict(meta=dict(epoch=1), state_dict=weights_to_cpu(
        teacher.state_dict())), path)
    return path


def preset_model(config, checkpoint, **options):
    cfg = Config.fromfile(config)
    cfg.model.teacher_checkpoint = checkpoint
    cfg.model.update(options)
    torch.manual_seed(0)
    return MODELS.build(cfg.model), cfg


def training_batch(cfg, num_images=6):
    """Random 32x32 images through the config's own training pipeline (all of it but
    the file loading), collated as its loader does."""
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline[1:])
    rng = np.random.default_rng(0)
    return default_collate([
        pipeline(dict(img=rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
                      img_shape=(32, 32), ori_shape=(32, 32), gt_label=i % 10))
        for i in range(num_images)])


def statistics(module):
    return {k: v.clone() for k, v in module.state_dict().items()
            if k.endswith(('running_mean', 'running_var'))}


@pytest.mark.parametrize('config', [PRESET, KD_PRESET])
@pytest.mark.parametrize('train_mode', [None, False])
def test_teacher_bn_during_a_training_step(config, train_mode, teacher_checkpoint):
    """None: the preset as shipped (train mode: every BN's running statistics move
    with the student's batch, the teacher's weights do not); False: our eval-mode
    option (nothing of the teacher changes). Validation puts the teacher in eval mode
    either way."""
    options = {} if train_mode is None else dict(teacher_train_mode=train_mode)
    model, cfg = preset_model(config, teacher_checkpoint, **options)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    assert model.teacher.training is (train_mode is None)
    before = statistics(model.teacher)
    weights = {k: v.clone() for k, v in model.teacher.state_dict().items()
               if k not in before and not k.endswith('num_batches_tracked')}
    model.train_step(training_batch(cfg), optim_wrapper)
    after = model.teacher.state_dict()
    moved = {k for k, v in before.items() if not torch.equal(v, after[k])}
    if train_mode is None:  # every BN layer the teacher ran (classic KD: no heads)
        assert moved == {k for k in before
                         if config == PRESET or not k.startswith('cds_neck.')}
        assert any(k.startswith('cds_neck.') for k in moved) is (config == PRESET)
    else:
        assert moved == set()
    assert all(torch.equal(v, after[k]) for k, v in weights.items())
    model.eval()
    assert model.teacher.training is False


def test_train_mode_teacher_normalises_with_the_batch(teacher_checkpoint):
    """In train mode the teacher's logits are those of its BN on the batch's
    statistics (its running statistics play no part), the reference's behaviour."""
    model, cfg = preset_model(PRESET, teacher_checkpoint)
    model.train()
    data = model.data_preprocessor(training_batch(cfg), True)
    views = data['inputs']
    logits, _ = model.teacher_outputs(views)
    reference = MODELS.build(Config.fromfile(cfg.model.teacher_config).model)
    reference.load_state_dict(torch.load(teacher_checkpoint,
                                         weights_only=True)['state_dict'])
    reference.train()
    with torch.no_grad():
        expected = reference.head(reference.forward_views(views)[1])
    assert torch.allclose(logits, expected, atol=1e-5)
    reference.eval()
    with torch.no_grad():
        in_eval = reference.head(reference.forward_views(views)[1])
    assert not torch.allclose(logits, in_eval, atol=1e-3)
