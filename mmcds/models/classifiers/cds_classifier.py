import copy
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from .multi_exit_classifier import MultiExitClassifier


def labels_of(data_samples: Sequence[DataSample], device) -> torch.Tensor:
    """(N,) single-label targets; -1 for a sample without ``gt_label``."""
    labels = []
    for index, sample in enumerate(data_samples):
        if 'gt_label' not in sample:
            labels.append(-1)
            continue
        gt_label = sample.gt_label.reshape(-1)
        if gt_label.numel() != 1:
            raise ValueError(f'data_samples[{index}].gt_label has {gt_label.numel()} '
                             'labels; contrastive deep supervision needs one per image')
        labels.append(int(gt_label))
    return torch.tensor(labels, dtype=torch.long, device=device)


def split_views(inputs, owner: str) -> List[torch.Tensor]:
    """Check that ``inputs`` is V >= 2 batched views of equal shape (N, C, H, W)."""
    if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs)
        raise ValueError(
            f'{owner} trains on two views per image but got a single batch {shape}. '
            'The train pipeline must create them, e.g. MultiView(num_views=[1, 1], '
            'transforms=[view1, view2]) before PackInputs, with data_preprocessor '
            "type='MultiViewClsDataPreprocessor'")
    if len(inputs) < 2:
        raise ValueError(f'{owner} needs at least 2 views per image, got {len(inputs)}')
    if len({tuple(v.shape) for v in inputs}) != 1:
        raise ValueError(f'{owner}: all views must have one shape, got '
                         f'{[tuple(v.shape) for v in inputs]}')
    return list(inputs)


@MODELS.register_module()
class CDSClassifier(MultiExitClassifier):
    """Image classifier trained with Contrastive Deep Supervision (Zhang et al., 2022).

    Training (``mode='loss'``) takes V >= 2 views of N images (a list of V tensors of
    shape (N, C, H, W)), runs the backbone once on the (V N)-batch, and returns

    - ``loss``: the usual head loss (e.g. cross-entropy) on view 1 only;
    - ``loss_cds_stage{k}`` for every backbone output k = 1..S: ``cds_loss`` (lambda *
      SupCon) on ``cds_neck``'s embeddings of all views, shaped (N, V, D).

    ``predict`` and ``tensor`` modes are those of ``ImageClassifier`` on the last
    backbone output only: ``cds_neck`` is not run, so at test time the model costs what
    a plain classifier does. ``backbone``, ``neck`` and ``head`` keep ImageClassifier's
    state-dict keys; the projection heads live under ``cds_neck.``, so a CDS checkpoint
    loads into a plain mmpretrain config with no missing keys.

    Args:
        backbone (dict): must output every stage to supervise, e.g. ResNet with
            ``out_indices=(0, 1, 2, 3)``.
        cds_neck (dict, optional): projection heads; ``in_channels`` is probed from
            the backbone when not given. Defaults to ``dict(type='CDSNeck')``.
        cds_loss (dict, optional): Defaults to ``dict(type='ContrastiveDSLoss')``
            (temperature 0.07, weight 0.1, supervised).
        neck, head, pretrained, train_cfg, init_cfg: as in ``ImageClassifier``.
        data_preprocessor (dict, optional): defaults to
            ``MultiViewClsDataPreprocessor``, which normalises each view.
    """

    def __init__(self,
                 backbone: dict,
                 cds_neck: Optional[dict] = None,
                 cds_loss: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = data_preprocessor or {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor.setdefault('type', 'MultiViewClsDataPreprocessor')
        super().__init__(
            backbone=backbone, neck=neck, head=head, pretrained=pretrained,
            train_cfg=train_cfg, data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        cds_neck = copy.deepcopy(cds_neck) if cds_neck else dict(type='CDSNeck')
        if isinstance(cds_neck, dict):
            given = cds_neck.get('in_channels')
            if not given:
                cds_neck['in_channels'] = self.stage_channels
            elif tuple(given) != self.stage_channels:
                raise ValueError(
                    f'CDSClassifier: cds_neck.in_channels={tuple(given)} does not '
                    f'match the backbone\'s stage channels {self.stage_channels}; '
                    'leave it unset to take them from the backbone')
        self.cds_neck = cds_neck if isinstance(cds_neck, nn.Module) \
            else MODELS.build(cds_neck)
        self.cds_loss = MODELS.build(cds_loss or dict(type='ContrastiveDSLoss'))

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample]) -> dict:
        """
        Args:
            inputs (list[Tensor]): V views, each (N, C, H, W); view 1 is the
                classification view.
            data_samples (list[DataSample]): N samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss`` and ``loss_cds_stage1..S``.
        """
        views = split_views(inputs, type(self).__name__)
        num_views, num_images = len(views), views[0].shape[0]
        stage_feats = self.backbone(torch.cat(views, dim=0))

        first_view = tuple(f[:num_images] for f in stage_feats)
        losses = self.head.loss(self._classifier_features(first_view), data_samples)

        labels = labels_of(data_samples, views[0].device)
        for stage, z in enumerate(self.cds_neck(stage_feats), start=1):
            # (V * N, D), view-major -> (N, V, D)
            z = z.reshape(num_views, num_images, -1).transpose(0, 1)
            losses[f'loss_cds_stage{stage}'] = self.cds_loss(z, labels)
        return losses
