"""CDSNeck, CDSClassifier and the two-view data path."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmcds  # noqa: F401

TINY_BACKBONE = dict(type='ResNet', depth=18, stem_channels=16, base_channels=16,
                     out_indices=(0, 1, 2, 3))
TINY_HEAD = dict(type='LinearClsHead', num_classes=4, in_channels=128,
                 loss=dict(type='CrossEntropyLoss'))


def tiny_cds_model(**kwargs):
    cfg = dict(type='CDSClassifier', backbone=TINY_BACKBONE,
               neck=dict(type='GlobalAveragePooling'), head=TINY_HEAD)
    cfg.update(kwargs)
    return MODELS.build(copy.deepcopy(cfg))


def samples_with_labels(labels):
    return [DataSample().set_gt_label(int(label)) for label in labels]


@pytest.mark.parametrize('depth, channels, blocks', [
    (18, (64, 128, 256, 512), (3, 2, 1, 0)),
    (50, (256, 512, 1024, 2048), (3, 2, 1, 0)),
])
def test_neck_shapes_for_resnet18_and_resnet50(depth, channels, blocks):
    backbone = MODELS.build(dict(type='ResNet', depth=depth, out_indices=(0, 1, 2, 3)))
    neck = MODELS.build(dict(type='CDSNeck', in_channels=channels))
    assert tuple(len(head) for head in neck.heads) == blocks
    with torch.no_grad():
        embeddings = neck(backbone(torch.randn(2, 3, 64, 64)))
    assert [tuple(z.shape) for z in embeddings] == [(2, channels[-1])] * 4
    for z in embeddings:
        assert torch.allclose(z.norm(dim=1), torch.ones(2), atol=1e-5)


def test_sep_conv_block_layout():
    neck = MODELS.build(dict(type='CDSNeck', in_channels=(8, 16)))
    layers = [m for m in neck.heads[0].modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU))]
    kinds = [(type(m).__name__, getattr(m, 'groups', None), getattr(m, 'stride', None))
             for m in layers]
    # dw 3x3 s2 -> pw -> BN -> ReLU -> dw 3x3 s1 -> pw -> BN -> ReLU, no conv bias
    assert kinds == [('Conv2d', 8, (2, 2)), ('Conv2d', 1, (1, 1)), ('BatchNorm2d', None, None),
                     ('ReLU', None, None), ('Conv2d', 8, (1, 1)), ('Conv2d', 1, (1, 1)),
                     ('BatchNorm2d', None, None), ('ReLU', None, None)]
    assert layers[5].out_channels == 16
    assert all(m.bias is None for m in layers if isinstance(m, torch.nn.Conv2d))


def test_neck_projector_and_errors():
    neck = MODELS.build(dict(type='CDSNeck', in_channels=(8, 16),
                             projector=dict(hidden_channels=32, out_channels=12)))
    outs = neck((torch.randn(3, 8, 8, 8), torch.randn(3, 16, 4, 4)))
    assert [tuple(z.shape) for z in outs] == [(3, 12), (3, 12)]
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(dict(type='CDSNeck'))
    with pytest.raises(ValueError, match='built for 2 stages'):
        neck((torch.randn(3, 8, 8, 8), ))


def test_in_channels_are_probed_from_the_backbone():
    model = tiny_cds_model()
    assert model.cds_neck.in_channels == (16, 32, 64, 128)
    basic = tiny_cds_model(backbone=dict(TINY_BACKBONE, type='ResNet_CIFAR'))
    assert basic.cds_neck.in_channels == (16, 32, 64, 128)


def test_a_changed_backbone_gets_matching_heads_and_a_wrong_in_channels_is_refused():
    cfg = Config.fromfile('configs/cds/resnet18-w16_1xb64_cifar10-jpg.py')
    cfg.merge_from_dict({'model.backbone.base_channels': 8,
                         'model.head.in_channels': 64})
    model = MODELS.build(cfg.model)
    assert model.cds_neck.in_channels == (8, 16, 32, 64)
    losses = model([torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)],
                   samples_with_labels([0, 1]), mode='loss')
    assert all(torch.isfinite(value) for value in losses.values())
    cfg.merge_from_dict({'model.cds_neck.in_channels': (16, 32, 64, 128)})
    with pytest.raises(ValueError, match=r'CDSClassifier.cds_neck.in_channels: \(16, 32, 64, 128\) '
                       r'does not match .* \(8, 16, 32, 64\)'):
        MODELS.build(cfg.model)


def test_swin_backbone_needs_a_larger_probe_and_gets_heads():
    # Swin's 7x7 windows do not fit a 64 px probe; the classifier retries at 224.
    model = MODELS.build(dict(
        type='CDSClassifier',
        backbone=dict(type='SwinTransformer', arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                      num_heads=[1, 1, 1, 1]), img_size=224, out_indices=(0, 1, 2, 3)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=128)))
    assert model.cds_neck.in_channels == (16, 32, 64, 128)


def test_loss_keys_and_gradients_reach_every_head_and_stage():
    torch.manual_seed(0)
    model = tiny_cds_model()
    views = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    losses = model(views, samples_with_labels([0, 1, 0, 2]), mode='loss')
    assert set(losses) == {'loss', 'loss_cds_stage1', 'loss_cds_stage2',
                           'loss_cds_stage3', 'loss_cds_stage4'}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    for stage, head in enumerate(model.cds_neck.heads):
        for name, param in head.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, (stage, name)
    for layer in ('layer1', 'layer2', 'layer3', 'layer4'):
        grad = getattr(model.backbone, layer)[0].conv1.weight.grad
        assert grad is not None and grad.abs().sum() > 0, layer


def test_each_stage_loss_only_trains_its_own_head():
    model = tiny_cds_model()
    views = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    losses = model(views, samples_with_labels([0, 1, 0, 2]), mode='loss')
    losses['loss_cds_stage2'].backward()
    grads = [sum(p.grad.abs().sum() for p in h.parameters() if p.grad is not None)
             if any(True for _ in h.parameters()) else None for h in model.cds_neck.heads]
    assert grads[0] == 0 and grads[1] > 0 and grads[2] == 0
    # stage 2's loss reaches layer1 and layer2 only (the stages' losses are computed
    # in one batched call, so layer3 may get an explicit zero instead of None)
    assert model.backbone.layer2[0].conv1.weight.grad.abs().sum() > 0
    grad = model.backbone.layer3[0].conv1.weight.grad
    assert grad is None or grad.abs().sum() == 0


def sep_conv_block_params(c_in, c_out):
    """The reference SepConv (CIFAR/resnet.py): dw 3x3 + pw c_in->c_in + BN(c_in) +
    dw 3x3 + pw c_in->c_out + BN(c_out), no conv biases."""
    return 9 * c_in + c_in * c_in + 2 * c_in + 9 * c_in + c_in * c_out + 2 * c_out


@pytest.mark.parametrize('channels, pinned', [((64, 128, 256, 512), 726_528),
                                              ((256, 512, 1024, 2048), 11_311_104)])
@pytest.mark.parametrize('stages', [None, (0, 1, 2)])
def test_projection_head_sizes_are_pinned(channels, pinned, stages):
    """ResNet-18 and ResNet-50 heads as the reference builds them (auxiliary1..3; the
    fourth only pools), with or without the last stage supervised."""
    neck = MODELS.build(dict(type='CDSNeck', in_channels=channels, stages=stages))
    count = sum(p.numel() for p in neck.parameters())
    by_formula = sum(sep_conv_block_params(a, b)
                     for stage in range(3)
                     for a, b in zip(channels[stage:-1], channels[stage + 1:]))
    assert count == by_formula == pinned


def test_cds_stages_choose_the_supervised_stages():
    torch.manual_seed(0)
    every = tiny_cds_model().eval()
    torch.manual_seed(0)
    paper = tiny_cds_model(cds_stages=(0, 1, 2)).eval()
    assert paper.cds_stages == (0, 1, 2) and len(paper.cds_neck.heads) == 3
    # The same heads, so the three shared terms are equal.
    paper.load_state_dict(every.state_dict(), strict=False)
    views = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    samples = samples_with_labels([0, 1, 0, 2])
    ours, theirs = every(views, samples, mode='loss'), paper(views, samples, mode='loss')
    assert set(theirs) == {'loss', 'loss_cds_stage1', 'loss_cds_stage2',
                           'loss_cds_stage3'}
    for key in theirs:
        assert torch.allclose(theirs[key], ours[key]), key
    with pytest.raises(ValueError, match='CDSNeck.stages'):
        tiny_cds_model(cds_stages=(4, ))
    with pytest.raises(ValueError, match='CDSClassifier.cds_stages'):
        tiny_cds_model(cds_stages=(0, 1), cds_neck=dict(type='CDSNeck', stages=(2, )))


def test_cross_entropy_on_labelled_images_only_contrast_on_all():
    """Semi-supervised batches: CE averages over the labelled images of view 1; the
    contrastive terms take every image, label -1 for the unlabelled ones."""
    torch.manual_seed(0)
    model = tiny_cds_model().eval()
    views = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    samples = samples_with_labels([0, 1, 0, 2])
    del samples[1].gt_label
    samples[3].set_gt_label(-1)
    losses = model(views, samples, mode='loss')
    logits = model(views[0], mode='tensor')
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], torch.tensor([0, 0]))
    assert losses['loss'].item() == pytest.approx(expected.item(), rel=1e-5)
    stage_feats = model.backbone(torch.cat(views))
    z = model.cds_embeddings(stage_feats, 2)[0]
    assert torch.allclose(losses['loss_cds_stage1'],
                          model.cds_loss(z, torch.tensor([0, -1, 0, -1])))
    # No labelled image: CE is 0 and the head still sees a (zero) gradient.
    for sample in samples:
        sample.set_gt_label(-1)
    model.train()
    losses = model(views, samples, mode='loss')
    assert losses['loss'].item() == 0
    sum(losses.values()).backward()
    assert model.head.fc.weight.grad is not None
    assert float(model.head.fc.weight.grad.abs().sum()) == 0


def test_cross_entropy_uses_view_one_only():
    torch.manual_seed(0)
    model = tiny_cds_model().eval()  # eval: BN uses running stats, batch-independent
    view1 = torch.randn(4, 3, 32, 32)
    samples = samples_with_labels([0, 1, 2, 3])
    ce_a = model([view1, torch.randn(4, 3, 32, 32)], samples, mode='loss')['loss']
    ce_b = model([view1, torch.randn(4, 3, 32, 32)], samples, mode='loss')['loss']
    assert ce_a.item() == pytest.approx(ce_b.item(), rel=1e-6)
    logits = model(view1, mode='tensor')
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    assert ce_a.item() == pytest.approx(expected.item(), rel=1e-5)


def test_predict_parity_with_plain_image_classifier():
    torch.manual_seed(0)
    cds = tiny_cds_model().eval()
    plain = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(TINY_BACKBONE, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'), head=TINY_HEAD)).eval()
    result = plain.load_state_dict(cds.state_dict(), strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys and all(
        key.startswith('cds_neck.') for key in result.unexpected_keys)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        ours = cds(images, mode='predict')
        theirs = plain(images, mode='predict')
        assert torch.equal(cds(images, mode='tensor'), plain(images, mode='tensor'))
    for a, b in zip(ours, theirs):
        assert torch.equal(a.pred_score, b.pred_score)
        assert torch.equal(a.pred_label, b.pred_label)


def test_single_view_training_batch_is_refused():
    model = tiny_cds_model()
    with pytest.raises(ValueError, match='MultiView'):
        model(torch.randn(2, 3, 32, 32), samples_with_labels([0, 1]), mode='loss')
    with pytest.raises(ValueError, match='at least 2 views'):
        model([torch.randn(2, 3, 32, 32)], samples_with_labels([0, 1]), mode='loss')


def test_multi_view_preprocessor_normalises_each_view_and_keeps_labels():
    preprocessor = MODELS.build(dict(type='MultiViewClsDataPreprocessor',
                                     mean=[10., 20., 30.], std=[2., 4., 5.], to_rgb=True))
    view1 = torch.randint(0, 255, (2, 3, 8, 8), dtype=torch.uint8)
    view2 = torch.randint(0, 255, (2, 3, 8, 8), dtype=torch.uint8)
    samples = samples_with_labels([1, 3])
    # default_collate layout: a list of V batched views
    out = preprocessor(dict(inputs=[view1, view2], data_samples=samples), training=True)
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    mean = torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)
    std = torch.tensor([2., 4., 5.]).view(1, 3, 1, 1)
    for got, raw in zip(out['inputs'], (view1, view2)):
        assert torch.allclose(got, (raw.flip(1).float() - mean) / std)
    assert [int(s.gt_label) for s in out['data_samples']] == [1, 3]
    # what mmengine's pseudo_collate makes of N samples of V views: V sequences of N
    out2 = preprocessor(pseudo_collate([
        dict(inputs=[view1[i], view2[i]], data_samples=samples[i]) for i in range(2)
    ]), training=True)
    for a, b in zip(out['inputs'], out2['inputs']):
        assert torch.allclose(a, b)
    # one view: exactly ClsDataPreprocessor
    single = preprocessor(dict(inputs=view1, data_samples=samples))
    assert torch.allclose(single['inputs'], out['inputs'][0])


def test_multi_view_preprocessor_refuses_batch_augments():
    preprocessor = MODELS.build(dict(
        type='MultiViewClsDataPreprocessor', num_classes=4,
        batch_augments=dict(augments=dict(type='Mixup', alpha=0.2))))
    views = [torch.zeros(2, 3, 8, 8, dtype=torch.uint8)] * 2
    with pytest.raises(ValueError, match='batch_augments'):
        preprocessor(dict(inputs=views, data_samples=samples_with_labels([0, 1])),
                     training=True)


@pytest.mark.parametrize('depth', [18, 34, 50])
def test_imagenet_configs_follow_the_paper(depth):
    cfg = Config.fromfile(f'configs/cds/resnet{depth}_8xb32_in1k.py')
    assert cfg.model.type == 'CDSClassifier'
    assert cfg.model.backbone.depth == depth
    assert cfg.model.cds_loss == dict(type='ContrastiveDSLoss', temperature=0.07,
                                      loss_weight=0.1, supervised=True)
    assert cfg.train_cfg.max_epochs == 90
    assert cfg.param_scheduler.milestones == [30, 60]
    optimizer = {k: v for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'}
    assert optimizer == dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    assert cfg.train_dataloader.batch_size * 8 == 256
    multi_view = cfg.train_dataloader.dataset.pipeline[1]
    assert multi_view.type == 'MultiView' and multi_view.num_views == [1, 1]
    view1, view2 = multi_view.transforms
    assert [t['type'] for t in view1] == ['RandomResizedCrop', 'RandomFlip']
    assert view1[0]['scale'] == 224 and view2[0]['scale'] == 224
    assert view2[0]['crop_ratio_range'] == (0.2, 1.0)
    assert view2[1] == dict(type='RandomFlip', prob=0.5, direction='horizontal')
    jitter = view2[2]
    assert jitter['prob'] == 0.8 and jitter['transforms'][0] == dict(
        type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    assert view2[3]['type'] == 'RandomGrayscale' and view2[3]['prob'] == 0.2
    model = MODELS.build(cfg.model)
    expected_channels = (64, 128, 256, 512) if depth < 50 else (256, 512, 1024, 2048)
    assert model.cds_neck.in_channels == expected_channels


def test_ntxent_variant_is_unsupervised():
    cfg = Config.fromfile('configs/cds/resnet50_8xb32_in1k_ntxent.py')
    assert cfg.model.cds_loss.supervised is False
    assert MODELS.build(cfg.model.cds_loss).supervised is False
