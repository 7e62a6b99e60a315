"""ContrastiveDSLoss against SupCon's formula, computed independently."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import supcon_by_loops
from mmcds.models.losses import ContrastiveDSLoss


def random_features(num_images, num_views, dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(num_images, num_views, dim, generator=generator), dim=-1)


def test_hand_checked_case():
    # Two images, two views each, 2-D unit vectors; image 0's views coincide, image 1's
    # views are orthogonal to image 0's. With tau = 1, weight 1 and no labels:
    #   anchor (0, a): sims to others = [1, 0, 0] -> -log(e / (e + 2))
    #   anchor (1, a): sims to others = [0, 0, 1] -> -log(e / (e + 2))
    # (each anchor has one positive; the four anchors are symmetric).
    features = torch.tensor([[[1., 0.], [1., 0.]], [[0., 1.], [0., 1.]]])
    loss = ContrastiveDSLoss(temperature=1.0, loss_weight=1.0)(features)
    expected = -math.log(math.e / (math.e + 2))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_hand_checked_supervised_case():
    # Same vectors, but both images share a label: anchor (0, a) now has positives
    # {(0, b), (1, a), (1, b)} with sims [1, 0, 0]: mean of -log(e^s / (e + 2)).
    features = torch.tensor([[[1., 0.], [1., 0.]], [[0., 1.], [0., 1.]]])
    loss = ContrastiveDSLoss(temperature=1.0, loss_weight=1.0)(features, torch.tensor([3, 3]))
    expected = -(1 - 3 * math.log(math.e + 2)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('supervised', [True, False])
def test_random_cases_match_formula(seed, supervised):
    features = random_features(6, 2, 8, seed)
    labels = torch.tensor([0, 1, 0, 2, 1, 1])
    loss_fn = ContrastiveDSLoss(temperature=0.07, loss_weight=0.1, supervised=supervised)
    expected = 0.1 * supcon_by_loops(features.double(), labels if supervised else None, 0.07)
    assert loss_fn(features, labels).item() == pytest.approx(expected, rel=1e-4)


def test_three_views_and_unlabelled_images():
    features = random_features(5, 3, 4, seed=3)
    labels = torch.tensor([1, -1, 1, -1, 0])
    loss = ContrastiveDSLoss(temperature=0.5, loss_weight=1.0)(features, labels)
    # -1 marks an unlabelled image: positives only among its own views.
    by_loops = supcon_by_loops(features.double(), [1, 'u1', 1, 'u3', 0], 0.5)
    assert loss.item() == pytest.approx(by_loops, rel=1e-4)


def test_matches_pytorch_metric_learning_supcon():
    pml_losses = pytest.importorskip('pytorch_metric_learning.losses')
    features = random_features(8, 2, 16, seed=4)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    ours = ContrastiveDSLoss(temperature=0.1, loss_weight=1.0)(features, labels)
    # PML takes (M, D) embeddings with one label per row; our rows are view-major.
    embeddings = features.transpose(0, 1).reshape(-1, 16)
    peer = pml_losses.SupConLoss(temperature=0.1)(embeddings, labels.repeat(2))
    assert ours.item() == pytest.approx(peer.item(), rel=1e-4)
    # NT-Xent is SupCon whose only positives are an image's own views.
    ours_ntxent = ContrastiveDSLoss(temperature=0.1, loss_weight=1.0, supervised=False)(
        features, labels)
    peer_ntxent = pml_losses.SupConLoss(temperature=0.1)(embeddings, torch.arange(8).repeat(2))
    assert ours_ntxent.item() == pytest.approx(peer_ntxent.item(), rel=1e-4)


def test_anchor_without_positive_is_left_out_not_nan():
    # One view each and distinct labels: no anchor has a positive.
    features = random_features(3, 1, 4).requires_grad_()
    loss = ContrastiveDSLoss()(features, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.isfinite(features.grad).all()
    # One view each, images 0 and 1 share a class: anchor 2 is left out.
    loss = ContrastiveDSLoss(temperature=0.5, loss_weight=1.0)(features.detach(), torch.tensor([0, 0, 1]))
    assert loss.item() == pytest.approx(
        supcon_by_loops(features.detach().double(), [0, 0, 1], 0.5), rel=1e-4)


def test_finite_under_bfloat16_autocast_and_half_inputs():
    features = random_features(16, 2, 32, seed=5)
    labels = torch.randint(0, 4, (16,), generator=torch.Generator().manual_seed(0))
    loss_fn = ContrastiveDSLoss()
    reference = loss_fn(features, labels)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        autocast_loss = loss_fn(features.bfloat16(), labels)
    half_loss = loss_fn(features.half(), labels)
    for value in (autocast_loss, half_loss):
        assert torch.isfinite(value)
        assert value.dtype == torch.float32
        assert value.item() == pytest.approx(reference.item(), rel=2e-2)


def test_gradient_reaches_every_view():
    features = random_features(4, 2, 8).requires_grad_()
    ContrastiveDSLoss()(features, torch.tensor([0, 0, 1, 1])).backward()
    assert (features.grad.norm(dim=-1) > 0).all()


def test_bad_inputs_are_refused():
    loss_fn = ContrastiveDSLoss()
    with pytest.raises(ValueError, match=r'\(N, V, D\)'):
        loss_fn(torch.zeros(4, 8))
    with pytest.raises(ValueError, match='labels has 3 entries for 4 images'):
        loss_fn(random_features(4, 2, 8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='temperature'):
        ContrastiveDSLoss(temperature=0)


def _gather_worker(rank, world_size, port, inputs, labels, out_dir):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    torch.manual_seed(0)
    projector = nn.Linear(inputs.shape[-1], 16)
    model = DistributedDataParallel(projector)
    chunk = inputs.shape[0] // world_size
    local = inputs[rank * chunk:(rank + 1) * chunk].clone().requires_grad_()
    features = F.normalize(model(local), dim=-1)
    loss = ContrastiveDSLoss(gather_distributed=True)(
        features, labels[rank * chunk:(rank + 1) * chunk])
    loss.backward()
    torch.save(dict(loss=loss.detach(), input_grad=local.grad,
                    weight_grad=projector.weight.grad),
               f'{out_dir}/rank{rank}.pt')
    dist.destroy_process_group()


def test_gather_distributed_equals_the_global_batch(tmp_path):
    """Two gloo ranks with half a batch each, under DDP: the ranks' losses average
    to the whole batch's loss, and DDP's averaged parameter gradient is the whole
    batch's gradient (not 1/world_size of it)."""
    import torch.multiprocessing as mp

    from conftest import free_port
    world_size = 2
    inputs = torch.randn(8, 2, 12, generator=torch.Generator().manual_seed(6))
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 3, 3])
    port = free_port()
    # forked, not spawned: a spawned rank re-imports this module (mmpretrain, mmdet).
    mp.start_processes(_gather_worker, nprocs=world_size, start_method='fork',
                       args=(world_size, port, inputs, labels, str(tmp_path)))
    torch.manual_seed(0)
    projector = nn.Linear(inputs.shape[-1], 16)
    whole = inputs.clone().requires_grad_()
    expected = ContrastiveDSLoss()(F.normalize(projector(whole), dim=-1), labels)
    expected.backward()
    results = [torch.load(tmp_path / f'rank{rank}.pt') for rank in range(world_size)]
    mean_loss = sum(result['loss'] for result in results) / world_size
    assert mean_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert results[0]['loss'].item() != pytest.approx(results[1]['loss'].item())
    for rank, result in enumerate(results):
        assert torch.allclose(result['weight_grad'], projector.weight.grad, atol=1e-6)
        # Each rank's loss is its own anchors' mean, so its inputs carry
        # world_size x their share of the mean over all ranks' losses.
        assert torch.allclose(result['input_grad'] / world_size,
                              whole.grad[rank * 4:(rank + 1) * 4], atol=1e-6)


def test_base_temperature_scales_as_supcon_code_does():
    # SupCon's SupConLoss and SelfCon's ConLoss multiply by temperature / 0.07.
    features = random_features(6, 2, 8, seed=7)
    labels = torch.tensor([0, 1, 0, 2, 1, 1])
    loss = ContrastiveDSLoss(temperature=0.1, loss_weight=0.8, base_temperature=0.07)(
        features, labels)
    expected = 0.8 * 0.1 / 0.07 * supcon_by_loops(features, labels.tolist(), 0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match='ContrastiveDSLoss.base_temperature'):
        ContrastiveDSLoss(base_temperature=0)
