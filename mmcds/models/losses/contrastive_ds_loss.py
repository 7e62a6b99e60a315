from typing import Optional

import torch
import torch.nn as nn
from mmengine.dist import all_gather, get_world_size
from mmpretrain.models.selfsup.simclr import GatherLayer
from mmpretrain.registry import MODELS


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

        \mathcal{L} = w \cdot \frac{1}{|I|} \sum_{i \in I} \frac{-1}{|P(i)|}
            \sum_{p \in P(i)} \log \frac{\exp(z_i \cdot z_p / \tau)}
            {\sum_{a \in A(i)} \exp(z_i \cdot z_a / \tau)}

    where :math:`w` is ``loss_weight``, :math:`\tau` is ``temperature`` and :math:`I`
    the anchors with at least one positive (an anchor without one, e.g. a single view of
    an image whose class appears once, is left out rather than yielding NaN).

    A label of ``-1`` marks an unlabelled image (semi-supervised training): its only
    positives are its own other views.

    Args:
        temperature (float): :math:`\tau`. Defaults to 0.07.
        loss_weight (float): :math:`w` (the paper's lambda). Defaults to 0.1.
        supervised (bool): Use the labels to define positives. Defaults to True.
        gather_distributed (bool): Contrast against the views of every rank (the
            global batch) with gradients, via mmpretrain's ``GatherLayer``. Every rank
            then computes the same loss over the global batch. Defaults to False.
    """

    def __init__(self,
                 temperature: float = 0.07,
                 loss_weight: float = 0.1,
                 supervised: bool = True,
                 gather_distributed: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.supervised = supervised
        self.gather_distributed = gather_distributed

    def forward(self,
                features: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            features (Tensor): (N, V, D): V views of N images, rows L2-normalised.
            labels (Tensor, optional): (N,) integer class labels; -1 = unlabelled.

        Returns:
            Tensor: the scalar ``loss_weight * SupCon``.
        """
        if features.dim() != 3:
            raise ValueError('ContrastiveDSLoss expects features of shape (N, V, D), '
                             f'got {tuple(features.shape)}')
        num_images, num_views, _ = features.shape
        use_labels = self.supervised and labels is not None
        if use_labels:
            labels = labels.reshape(-1)
            if labels.numel() != num_images:
                raise ValueError(f'labels has {labels.numel()} entries for '
                                 f'{num_images} images in features')

        if self.gather_distributed and get_world_size() > 1:
            features = torch.cat(GatherLayer.apply(features.contiguous()), dim=0)
            if use_labels:
                labels = torch.cat(all_gather(labels.contiguous()), dim=0)
            num_images = features.shape[0]

        # Similarities in fp32: exp(1/0.07) overflows fp16 and bf16 loses the
        # precision the log-softmax needs.
        with torch.autocast(device_type=features.device.type, enabled=False):
            # (N, V, D) -> (V * N, D), view-major: row v * N + n is view v of image n.
            z = features.float().transpose(0, 1).reshape(num_views * num_images, -1)
            logits = z @ z.t() / self.temperature
            num_anchors = logits.shape[0]
            self_mask = torch.eye(num_anchors, dtype=torch.bool, device=z.device)

            image_ids = torch.arange(num_images, device=z.device).repeat(num_views)
            positive_mask = image_ids[:, None] == image_ids[None, :]
            if use_labels:
                anchor_labels = labels.to(z.device).repeat(num_views)
                same_class = anchor_labels[:, None] == anchor_labels[None, :]
                labelled = anchor_labels >= 0
                positive_mask |= same_class & labelled[:, None] & labelled[None, :]
            positive_mask &= ~self_mask

            # log p(a | i) over the contrast set A(i) = every view but i.
            logits = logits.masked_fill(self_mask, float('-inf'))
            log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
            log_prob = log_prob.masked_fill(self_mask, 0.)

            num_positives = positive_mask.sum(dim=1)
            has_positive = num_positives > 0
            mean_log_prob_pos = (log_prob * positive_mask).sum(dim=1)[has_positive] \
                / num_positives[has_positive]
            if mean_log_prob_pos.numel() == 0:
                # No anchor has a positive: a zero that keeps the graph connected.
                return features.sum() * 0.
            return -self.loss_weight * mean_log_prob_pos.mean()

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, loss_weight={self.loss_weight}, '
                f'supervised={self.supervised}, '
                f'gather_distributed={self.gather_distributed}')
