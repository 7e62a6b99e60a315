from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import all_gather, get_rank, get_world_size
from mmpretrain.models.selfsup.simclr import GatherLayer
from mmpretrain.registry import MODELS


class GatherLayerSummedGrad(GatherLayer):
    """mmpretrain's ``GatherLayer`` whose backward sums the gradients from every rank.

    ``GatherLayer`` hands each rank back only the gradient of its own loss. When each
    rank's loss covers only its local anchors, the gradient that the other ranks'
    anchors send to this rank's features (through the negatives and positives) must be
    added: backward all-reduces the gathered gradients before taking this rank's slice.
    """

    @staticmethod
    def backward(ctx, *grads):
        """Sum every rank's gradients, then take this rank's slice."""
        grads = torch.stack(grads)
        dist.all_reduce(grads)
        return grads[dist.get_rank()]


def check_equal_batches(num_images: int, device: torch.device) -> None:
    """Raise on every rank when the ranks' batches differ in size.

    The gather of :class:`GatherLayerSummedGrad` needs the same shape on every rank;
    gloo aborts the process ("Received data size doesn't match expected size") and
    NCCL may hang when they differ. One all_gather of the sizes (a tensor of one
    number per rank) tells every rank, so all of them raise the same error.
    """
    sizes = [int(size) for size in all_gather(
        torch.tensor([num_images], dtype=torch.long, device=device))]
    if len(set(sizes)) > 1:
        raise ValueError(
            'ContrastiveDSLoss(gather_distributed=True): the ranks\' batches hold '
            f'{sizes} images (rank 0, 1, ...), but the gather needs the same number '
            'on every rank; set train_dataloader.drop_last=True (and a sampler that '
            'gives every rank as many samples, e.g. DefaultSampler) or '
            'gather_distributed=False')


@MODELS.register_module()
class ContrastiveDSLoss(nn.Module):
    r"""Supervised contrastive loss (SupCon) for Contrastive Deep Supervision.

    Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (the ``L^sup_out``
    form), as used on every stage by Zhang et al., "Contrastive Deep Supervision",
    ECCV 2022. With ``labels=None`` or ``supervised=False`` it is SimCLR's NT-Xent.

    The :math:`M = V N` views are the anchors. For anchor :math:`i` with positives
    :math:`P(i)` (the other views of the same image and, when supervised, every view of
    an image with the same label) and contrast set :math:`A(i)` (every view but
    :math:`i` itself):

    .. math::

        \mathcal{L} = w \, s \cdot \frac{1}{|I|} \sum_{i \in I} \frac{-1}{|P(i)|}
            \sum_{p \in P(i)} \log \frac{\exp(z_i \cdot z_p / \tau)}
            {\sum_{a \in A(i)} \exp(z_i \cdot z_a / \tau)}

    where :math:`w` is ``loss_weight``, :math:`\tau` is ``temperature``,
    :math:`s = \tau / \tau_b` with ``base_temperature`` :math:`\tau_b` (SupCon's
    code scales its loss so; :math:`s = 1` when ``base_temperature`` is None) and :math:`I`
    the anchors with at least one positive (an anchor without one, e.g. a single view of
    an image whose class appears once, is left out rather than yielding NaN).

    A label of ``-1`` marks an unlabelled image (semi-supervised training): its only
    positives are its own other views.

    Args:
        temperature (float): :math:`\tau`. Defaults to 0.07.
        loss_weight (float): :math:`w` (the paper's lambda). Defaults to 0.1.
        supervised (bool): Use the labels to define positives. Defaults to True.
        base_temperature (float, optional): :math:`\tau_b`. SupCon's ``SupConLoss``
            and SelfCon's ``ConLoss`` multiply the loss by
            ``temperature / base_temperature`` with ``base_temperature=0.07``; CDS's
            reference runs them at ``temperature=0.07``, a factor of 1. Defaults to
            None (no factor).
        gather_distributed (bool): Contrast against the views of every rank (the
            global batch) with gradients. Each rank's anchors are its own views, its
            contrast set the global batch; gradients from every rank's anchors are
            summed (:class:`GatherLayerSummedGrad`), so DDP's average of the ranks'
            gradients is the gradient of the global-batch loss (exactly so when
            every anchor has a positive, e.g. with two views). Needs the same local
            batch size on every rank (mmengine's ``DefaultSampler`` pads to it).
            Defaults to False.
    """

    def __init__(self,
                 temperature: float = 0.07,
                 loss_weight: float = 0.1,
                 supervised: bool = True,
                 base_temperature: Optional[float] = None,
                 gather_distributed: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'ContrastiveDSLoss.temperature: must be > 0, got '
                             f'{temperature}')
        if base_temperature is not None and base_temperature <= 0:
            raise ValueError('ContrastiveDSLoss.base_temperature: must be > 0 or '
                             f'None, got {base_temperature}')
        self.temperature = temperature
        self.base_temperature = base_temperature
        self.loss_weight = loss_weight
        self.supervised = supervised
        self.gather_distributed = gather_distributed

    def forward(self,
                features: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The weighted SupCon (or NT-Xent) loss of V views of N images.

        Args:
            features (Tensor): (N, V, D): V views of N images, rows L2-normalised;
                or (S, N, V, D): S such sets of embeddings of the same images (e.g.
                CDS's stages), whose S losses are computed in one batched call.
            labels (Tensor, optional): (N,) integer class labels; -1 = unlabelled.

        Returns:
            Tensor: the scalar ``loss_weight * SupCon``, or (S,) of them for
            4-D ``features``.
        """
        if features.dim() not in (3, 4):
            raise ValueError('ContrastiveDSLoss: features must be (N, V, D) (V views '
                             'of N images) or (S, N, V, D) (S sets of them), got '
                             f'{tuple(features.shape)}')
        stacked = features.dim() == 4
        if not stacked:
            features = features[None]
        num_sets, num_images, num_views, _ = features.shape
        use_labels = self.supervised and labels is not None
        if use_labels:
            labels = labels.reshape(-1)
            if labels.numel() != num_images:
                raise ValueError(f'ContrastiveDSLoss: labels has {labels.numel()} '
                                 f'entries for {num_images} images in features; give '
                                 'one label per image')

        # Anchors are this rank's images (all of them without gathering); the
        # contrast set is every image gathered, local ones first at ``offset``.
        num_local, offset = num_images, 0
        if self.gather_distributed and get_world_size() > 1:
            check_equal_batches(num_images, features.device)
            # Gathered along dim 0 (the images), one set of embeddings at a time.
            features = torch.cat(GatherLayerSummedGrad.apply(
                features.transpose(0, 1).contiguous()), dim=0).transpose(0, 1)
            if use_labels:
                labels = torch.cat(all_gather(labels.contiguous()), dim=0)
            offset = get_rank() * num_local
            num_images = features.shape[1]

        # Similarities in fp32: exp(1/0.07) overflows fp16 and bf16 loses the
        # precision the log-softmax needs.
        with torch.autocast(device_type=features.device.type, enabled=False):
            # (S, N, V, D) -> (S, V * N, D), view-major: row v * N + n is view v of
            # image n.
            z = features.float().transpose(1, 2).reshape(
                num_sets, num_views * num_images, -1)
            image_ids = torch.arange(num_images, device=z.device).repeat(num_views)
            view_ids = torch.arange(num_views, device=z.device).repeat_interleave(
                num_local)
            local_ids = torch.arange(num_local, device=z.device).repeat(num_views)
            # Rows of z that are this rank's views: (V * N_local,).
            anchor_rows = view_ids * num_images + offset + local_ids
            # (S, V N_local, V N): one batched matmul for all S sets.
            logits = z[:, anchor_rows] @ z.transpose(1, 2) / self.temperature
            self_mask = anchor_rows[:, None] == torch.arange(
                z.shape[1], device=z.device)[None, :]

            positive_mask = image_ids[anchor_rows, None] == image_ids[None, :]
            if use_labels:
                view_labels = labels.to(z.device).repeat(num_views)
                same_class = view_labels[anchor_rows, None] == view_labels[None, :]
                labelled = view_labels >= 0
                positive_mask |= (same_class & labelled[anchor_rows, None]
                                  & labelled[None, :])
            positive_mask &= ~self_mask

            # log p(a | i) over the contrast set A(i) = every view but i.
            logits = logits.masked_fill(self_mask, float('-inf'))
            log_prob = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
            log_prob = log_prob.masked_fill(self_mask, 0.)

            # Means over each anchor's positives and over the anchors that have
            # one, written without boolean indexing so that the device is never
            # waited on; with no positive at all the loss is a 0 that keeps the
            # graph connected.
            num_positives = positive_mask.sum(dim=1)
            has_positive = (num_positives > 0).to(log_prob.dtype)
            mean_log_prob_pos = (log_prob * positive_mask).sum(dim=-1) \
                / num_positives.clamp(min=1)
            scale = self.loss_weight
            if self.base_temperature is not None:
                scale = scale * self.temperature / self.base_temperature
            loss = -scale * (mean_log_prob_pos * has_positive).sum(dim=-1) \
                / has_positive.sum().clamp(min=1)
            return loss if stacked else loss[0]

    def extra_repr(self) -> str:
        """The settings, shown when the module is printed."""
        return (f'temperature={self.temperature}, loss_weight={self.loss_weight}, '
                f'supervised={self.supervised}, '
                f'base_temperature={self.base_temperature}, '
                f'gather_distributed={self.gather_distributed}')
