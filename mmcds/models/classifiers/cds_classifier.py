"""Contrastive Deep Supervision (Zhang et al., ECCV 2022)."""
import copy
import inspect
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses import ContrastiveDSLoss
from ..utils import labels_of, split_views
from .multi_exit_classifier import MultiExitClassifier


@MODELS.register_module()
class CDSClassifier(MultiExitClassifier):
    r"""An image classifier trained with Contrastive Deep Supervision.

    Training (``mode='loss'``) takes V >= 2 views of N images (a list of V tensors
    (N, C, H, W), view 1 first), runs the backbone once on the (V N)-batch, and returns

    - ``loss``: the head's loss (e.g. cross-entropy) on view 1 of the labelled
      images only (semi-supervised batches: an image without ``gt_label``, or with
      label -1, is unlabelled; the mean is over the labelled images, and is 0 when
      there are none);
    - ``loss_cds_stage{k}`` for every supervised backbone output k (1-based) in
      ``cds_stages``: ``cds_loss(z_k, y)`` =
      :math:`\lambda\,\mathrm{SupCon}(z_k, y)` on ``cds_neck``'s unit-norm
      embeddings :math:`z_k` of all views of every image, shaped (N, V, D); an
      unlabelled image (label -1) has only its own other views as positives.

    ``predict`` and ``tensor`` modes are ``ImageClassifier``'s on the last backbone
    output only: ``cds_neck`` is not run, so at test time the model costs what a plain
    classifier does. The projection heads live under ``cds_neck.``; the other keys are
    ``ImageClassifier``'s, so a CDS checkpoint loads into a plain mmpretrain config.

    Args:
        backbone (dict): must output every stage to supervise, e.g. ResNet with
            ``out_indices=(0, 1, 2, 3)``.
        cds_neck (dict, optional): projection heads; ``in_channels`` is probed from
            the backbone when not given. Defaults to ``dict(type='CDSNeck')``.
        cds_loss (dict, optional): Defaults to ``dict(type='ContrastiveDSLoss')``
            (temperature 0.07, weight 0.1, supervised).
        cds_stages (Sequence[int], optional): 0-based backbone outputs that get a
            projection head and a contrastive term. Defaults to every output, as the
            reference code does (``CIFAR/resnet.py``: ``auxiliary1..4``, the last
            one the pooled final feature); ``(0, 1, 2)`` for S = 4 outputs is the
            paper's equation, a sum over the K - 1 intermediate stages. Sets
            ``cds_neck.stages``.
        **kwargs: ``ImageClassifier``'s other arguments. ``data_preprocessor``
            defaults to ``MultiViewClsDataPreprocessor``, which normalises each view.
    """

    def __init__(self,
                 backbone: dict,
                 cds_neck: Optional[dict] = None,
                 cds_loss: Optional[dict] = None,
                 cds_stages: Optional[Sequence[int]] = None,
                 **kwargs):
        data_preprocessor = kwargs.get('data_preprocessor') or {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor.setdefault('type', 'MultiViewClsDataPreprocessor')
        kwargs['data_preprocessor'] = data_preprocessor
        super().__init__(backbone=backbone, **kwargs)
        cds_neck = copy.deepcopy(cds_neck) if cds_neck else dict(type='CDSNeck')
        if isinstance(cds_neck, dict):
            given = cds_neck.get('in_channels')
            if not given:
                cds_neck['in_channels'] = self.stage_channels
            elif tuple(given) != self.stage_channels:
                raise ValueError(
                    f'CDSClassifier.cds_neck.in_channels: {tuple(given)} does not '
                    f'match the backbone\'s stage channels {self.stage_channels}; '
                    'leave it unset to take them from the backbone')
            if cds_stages is not None:
                if cds_neck.get('stages') is not None and \
                        tuple(cds_neck['stages']) != tuple(cds_stages):
                    raise ValueError('CDSClassifier.cds_stages: differs from '
                                     'cds_neck.stages; set only one of them')
                cds_neck['stages'] = tuple(cds_stages)
        if isinstance(cds_neck, nn.Module):
            self.cds_neck = cds_neck
        else:
            with self.auxiliary_rng():
                self.cds_neck = MODELS.build(cds_neck)
        # A neck given as a module supervises what it has heads for (all by default).
        self.cds_stages = tuple(getattr(self.cds_neck, 'stages',
                                        range(len(self.stage_channels))))
        self.cds_loss = MODELS.build(cds_loss or dict(type='ContrastiveDSLoss'))

    def cds_embeddings(self, stage_feats, num_views: int) -> List[torch.Tensor]:
        """The projection heads' embeddings of the supervised stages, (N, V, D) each.

        One per stage in ``cds_stages``, from a view-major (V N)-batch of stage maps,
        each reshaped to (N, V, D)."""
        embeddings = []
        for z in self.cds_neck(stage_feats):
            num_images = z.shape[0] // num_views
            # (V * N, D), view-major -> (N, V, D)
            embeddings.append(z.reshape(num_views, num_images, -1).transpose(0, 1))
        return embeddings

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample]) -> dict:
        """The head's loss on view 1 of the labelled images and the contrastive terms.

        Args:
            inputs (list[Tensor]): V views, each (N, C, H, W); view 1 is the
                classification view.
            data_samples (list[DataSample]): N samples, with ``gt_label`` where the
                image is labelled.

        Returns:
            dict[str, Tensor]: ``loss`` and ``loss_cds_stage{k}`` for k in
            ``cds_stages`` (1-based).
        """
        views = split_views(inputs, type(self).__name__)
        stage_feats, neck_out = self.forward_views(views)
        labels = labels_of(data_samples, views[0].device, type(self).__name__)
        losses = self.labelled_head_loss(neck_out, data_samples, labels)
        losses.update(self.contrastive_losses(
            self.cds_embeddings(stage_feats, len(views)), data_samples))
        return losses

    def forward_views(self, views: List[torch.Tensor]):
        """The backbone on all views at once, and the head's input for view 1.

        Args:
            views (list[Tensor]): V views, each (N, C, H, W), view 1 first.

        Returns:
            tuple: the S stage maps of the view-major (V N)-batch, and the neck's
            output for the first N rows (what the head classifies).
        """
        num_images = views[0].shape[0]
        stage_feats = self.backbone(torch.cat(views, dim=0))
        first_view = tuple(f[:num_images] for f in stage_feats)
        return stage_feats, self.classifier_features(first_view)

    def contrastive_losses(self, embeddings: List[torch.Tensor],
                           data_samples: List[DataSample]) -> dict:
        """``{'loss_cds_stage{k}': cds_loss(z_k, y)}`` for the (N, V, D) embeddings of
        the stages in ``cds_stages`` (k 1-based); label -1 marks an unlabelled image.

        Embeddings of one shape (CDSNeck ends every head at the last stage's width)
        go to ``ContrastiveDSLoss`` stacked, (S, N, V, D): the S similarity matrices
        in one batched matmul, the masks built once (forward + backward for N = 64,
        S = 4 on a shared CPU: 6.4 vs 8.7 ms for S calls; docs/benchmark.md)."""
        labels = labels_of(data_samples, embeddings[0].device, type(self).__name__)
        keys = [f'loss_cds_stage{stage + 1}' for stage in self.cds_stages]
        if type(self.cds_loss) is ContrastiveDSLoss and len(
                {tuple(z.shape) for z in embeddings}) == 1:
            return dict(zip(keys, self.cds_loss(torch.stack(embeddings), labels)))
        return {key: self.cds_loss(z, labels) for key, z in zip(keys, embeddings)}

    def labelled_head_loss(self, neck_out, data_samples: List[DataSample],
                           labels: torch.Tensor) -> dict:
        """The head's loss on the labelled images (``labels >= 0``) only, read off
        the device without waiting for it.

        With :math:`m_i = [y_i \\ge 0]` for the N images, the head's loss module gets
        every image with target :math:`\\max(y_i, 0)` and per-image weight
        :math:`w_i = m_i\\,N / \\max(1, \\sum_j m_j)`: its mean over N (mmpretrain's
        ``ClsHead`` averages over N) is then the mean over the labelled images, 0 when
        there are none (the graph stays connected), and for an all-labelled batch
        (:math:`w_i = 1`) exactly ``head.loss`` on the batch. Nothing is decided on
        the host, so a CUDA step does not wait for the GPU here (the earlier
        ``bool(labelled.all())`` and ``nonzero`` did, every step).

        A head whose loss module takes no ``weight``, or one that logs its training
        accuracy (``cal_acc=True``, which would count the unlabelled images as
        class 0 in the weighted batch), gets the labelled images cut out instead
        (boolean selection: one wait for the device per step).
        """
        if not self.head_loss_takes_weight:
            return self._selected_head_loss(neck_out, data_samples, labels)
        labelled = labels >= 0
        weight = labelled.float() * (labels.numel() / labelled.sum().clamp(min=1))
        # 1-D one-element targets (a 0-d label is read with .item() by DataSample)
        targets = labels.clamp(min=0).split(1)
        samples = [DataSample().set_gt_label(target) for target in targets]
        return self.head.loss(neck_out, samples, weight=weight)

    @property
    def head_loss_takes_weight(self) -> bool:
        """Whether ``head.loss`` hands a per-image ``weight`` to a loss module that
        takes it (mmpretrain's ``ClsHead`` family with its classification losses)
        and computes nothing else from the targets (no ``cal_acc``)."""
        loss_module = getattr(self.head, 'loss_module', None)
        if not isinstance(self.head, ClsHead) or loss_module is None \
                or getattr(self.head, 'cal_acc', False):
            return False
        return 'weight' in inspect.signature(loss_module.forward).parameters

    def _selected_head_loss(self, neck_out, data_samples: List[DataSample],
                            labels: torch.Tensor) -> dict:
        """``head.loss`` on the labelled images, cut out of the batch (a 0 that keeps
        the graph connected when there are none)."""
        labelled = labels >= 0
        if bool(labelled.all()):
            return self.head.loss(neck_out, data_samples)
        index = labelled.nonzero().flatten()

        def select(x):
            return type(x)(select(t) for t in x) if isinstance(x, (tuple, list)) \
                else x[index]

        if index.numel() == 0:
            # A 0 through the head, so that every parameter stays in the graph.
            return {'loss': self.head(neck_out).sum() * 0.}
        return self.head.loss(select(neck_out),
                              [data_samples[i] for i in index.tolist()])
