"""Knowledge distillation with Contrastive Deep Supervision (Zhang et al., ECCV 2022).

The distilled form of CDS (the paper's Table 7; reference code
contrastive-deep-supervision: ``CIFAR/distill.py`` and
``ImageNet/KD_Contrastive_Deep_Supervision/main.py``): a CDS student learns from a
frozen, already trained CDS teacher."""
import copy
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmcds.utils.checkpoint import CheckpointError, load_checkpoint_file
from ..utils import per_stage_values, split_views
from .cds_classifier import CDSClassifier

# Relative teacher config paths are tried from here too (the checkout's root), so a
# leaf config's 'configs/cds/...' works whatever the working directory.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@MODELS.register_module()
class CDSDistiller(CDSClassifier):
    r"""A CDS student trained against a frozen CDS teacher.

    The model *is* the student: every argument not listed below is
    :class:`CDSClassifier`'s, so ``predict``/``tensor`` modes, the data preprocessor
    and the state dict keys (``backbone.``, ``neck.``, ``head.``, ``cds_neck.``) are a
    CDS classifier's, plus ``feat_adapters.`` (training only). The teacher is built
    from ``teacher_config`` and loaded from ``teacher_checkpoint`` at build time; it
    is kept outside the module tree, so it has no gradient, is not in the optimizer,
    is not re-initialised by ``init_weights`` and is not saved: a checkpoint of the
    distiller loads into the student's plain CDS config (``feat_adapters.*`` are
    reported as unexpected) and converts like a CDS checkpoint.

    Training (``mode='loss'``) on two views of N images, stacked view-major as
    :math:`[v_1; v_2]` (2N rows); the teacher sees the same normalised batch:

    .. math::

        \texttt{loss} &= \mathrm{CE}(s(v_1), y) \\
        \texttt{loss\_cds\_stage}k &= w_{con}\,\mathrm{SupCon}(z_k, y) \\
        \texttt{loss\_feat\_stage}k &= w_{feat,k}\,\big\| t_k - A_k(z_k) \big\|_F \\
        \texttt{loss\_kd} &= w_{kd}\,\frac{1}{N}\sum_{n=1}^{N}\sum_{c}
            -\mathrm{softmax}\big(\tfrac{t(v_{1,n})}{T}\big)_c\,
            \log\mathrm{softmax}\big(\tfrac{s(v_{1,n})}{T}\big)_c

    where :math:`s`, :math:`t` are the student's and teacher's logits, :math:`z_k`,
    :math:`t_k` their stage-k projection-head embeddings (2N x D, unit rows),
    :math:`A_k` a learnable ``Linear`` (with bias) from the student's to the teacher's
    embedding width when they differ, identity when equal. As in the reference code
    the feature term is the Frobenius norm of the whole 2N x D difference, neither
    squared nor averaged (``torch.dist``; it grows with the batch size per GPU), and
    the KD term is the soft cross-entropy without the :math:`T^2` factor of Hinton
    et al. :math:`w_{con}` is ``cds_loss.loss_weight``.

    With ``feat_loss_weight`` 0 and ``cds_loss.loss_weight`` 0 this is classic KD
    (CE + ``loss_kd``): only view 1 is used (a one-view batch works too), and the
    projection heads, which no term then uses, are frozen; more generally every
    projection head no term uses is frozen (no gradient, so DDP needs no
    ``find_unused_parameters``).

    Args:
        backbone (dict): the student's backbone, as for :class:`CDSClassifier`.
        teacher_config (str | dict): the teacher's config file (its ``model``, with
            the file's ``data_preprocessor`` as the Runner merges it) or a model dict.
            A relative path is looked up from the working directory, then from the
            repository root.
        teacher_checkpoint (str): the teacher's trained checkpoint (what
            ``tools/train.py`` writes for ``teacher_config``). Required: a missing
            file, or one that does not load into the teacher (missing keys, other
            shapes), fails at build time. Unexpected keys (e.g. ``feat_adapters.``
            of a distilled teacher) are logged and ignored.
        kd_temperature (float): :math:`T`. Defaults to 3.0 (CIFAR/distill.py).
        kd_loss_weight (float): :math:`w_{kd}`; 0 turns the term off. Defaults to 1.0.
        feat_loss_weight (float | Sequence[float]): :math:`w_{feat}`, one value or
            one per matched stage; 0 drops a stage. Defaults to 0.1 (CIFAR/distill.py).
        feat_stages (Sequence[int], optional): 0-based stages whose embeddings are
            matched (student stage k with teacher stage k). Defaults to all. Teacher
            and student must have the same number of stages.
        teacher_train_mode (bool): keep the teacher in train mode while the student
            trains, as the authors' scripts do
            (``ImageNet/KD_Contrastive_Deep_Supervision/main.py``: ``teacher.train()``;
            ``CIFAR/distill.py`` never calls ``teacher.eval()``): its BatchNorm then
            normalises with the batch's statistics and its running statistics drift
            with the student's data (still no gradient). Defaults to True. False (ours)
            runs the teacher in eval mode, with the statistics it was trained with.
            In both modes ``model.eval()`` puts the teacher in eval mode.
        **kwargs: :class:`CDSClassifier`'s other arguments (``neck``, ``head``,
            ``cds_neck``, ``cds_loss``, ``data_preprocessor``, ...).
    """

    def __init__(self,
                 backbone: dict,
                 teacher_config: Union[str, dict, None] = None,
                 teacher_checkpoint: Optional[str] = None,
                 kd_temperature: float = 3.0,
                 kd_loss_weight: float = 1.0,
                 feat_loss_weight: Union[float, Sequence[float]] = 0.1,
                 feat_stages: Optional[Sequence[int]] = None,
                 teacher_train_mode: bool = True,
                 **kwargs):
        owner = type(self).__name__
        if kd_temperature <= 0:
            raise ValueError(f'{owner}.kd_temperature: must be > 0, got '
                             f'{kd_temperature}')
        if kd_loss_weight < 0:
            raise ValueError(f'{owner}.kd_loss_weight: must be >= 0, got '
                             f'{kd_loss_weight}')
        super().__init__(backbone=backbone, **kwargs)
        self.kd_temperature = float(kd_temperature)
        self.kd_loss_weight = float(kd_loss_weight)
        self.teacher_train_mode = bool(teacher_train_mode)

        num_stages = len(self.stage_channels)
        if feat_stages is None:
            feat_stages = range(num_stages)
        feat_stages = tuple(int(s) for s in feat_stages)
        if any(not 0 <= s < num_stages for s in feat_stages) or \
                len(set(feat_stages)) != len(feat_stages):
            raise ValueError(f'{owner}.feat_stages={feat_stages}: every entry must be '
                             f'a distinct stage in 0..{num_stages - 1}')
        weights = per_stage_values(feat_loss_weight, len(feat_stages), owner,
                                   'feat_loss_weight')
        # Stages with weight 0 are not matched (no adapter, no loss key).
        self.feat_loss_weights = {s: w for s, w in zip(feat_stages, weights) if w > 0}
        self.uses_cds = float(getattr(self.cds_loss, 'loss_weight', 1.)) > 0
        if not self.feat_loss_weights and self.kd_loss_weight == 0:
            raise ValueError(f'{owner}: kd_loss_weight and feat_loss_weight are all 0, '
                             'so nothing is distilled; train the student with its CDS '
                             'config instead')
        # Classic KD (no contrastive, no feature term) trains on view 1 only.
        self.uses_views = self.uses_cds or bool(self.feat_loss_weights)
        self._freeze_unused_projection_heads(
            range(num_stages) if self.uses_cds else self.feat_loss_weights)

        with self.auxiliary_rng():
            teacher, name = self._build_teacher(teacher_config)
        self._check_teacher(teacher, name)
        self._load_teacher(teacher, teacher_checkpoint, name)
        teacher.requires_grad_(False)
        # Outside the module tree: not in parameters(), state_dict(), init_weights()
        # or DDP; _apply() and train() below carry it along.
        object.__setattr__(self, 'teacher', teacher)

        # A_k: student embedding width -> teacher's, only where they differ.
        self.feat_adapters = nn.ModuleDict()
        with self.auxiliary_rng():
            for stage in self.feat_loss_weights:
                widths = self.cds_neck.out_channels, teacher.cds_neck.out_channels
                if widths[0] != widths[1]:
                    self.feat_adapters[f'stage{stage + 1}'] = nn.Linear(*widths,
                                                                        bias=True)
        self.train(self.training)

    # ------------------------------------------------------------------ teacher
    @staticmethod
    def _build_teacher(teacher_config) -> Tuple[ImageClassifier, str]:
        """The teacher model built from a config path or a model dict, and its name."""
        owner = 'CDSDistiller'
        if isinstance(teacher_config, (str, os.PathLike)):
            path = os.fspath(teacher_config)
            candidates = [path] if osp.isabs(path) else [path, osp.join(REPO_ROOT, path)]
            found = next((p for p in candidates if osp.isfile(p)), None)
            if found is None:
                raise FileNotFoundError(f'{owner}.teacher_config: config file not found: '
                                        f'{path} (tried {candidates})')
            cfg = Config.fromfile(found)
            model_cfg = copy.deepcopy(cfg.model)
            # What the Runner does for the model it trains: the file's top-level
            # data_preprocessor is the model's unless the model sets one.
            if cfg.get('data_preprocessor', None) is not None:
                model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
            name = path
        elif isinstance(teacher_config, dict) and 'type' in teacher_config:
            model_cfg, name = copy.deepcopy(teacher_config), \
                f"a {teacher_config['type']} model dict"
        else:
            raise ValueError(f'{owner}.teacher_config: give the teacher\'s config file '
                             '(e.g. configs/cds/resnet50_8xb32_in1k.py) or its model '
                             f'dict, got {teacher_config!r}')
        try:
            teacher = MODELS.build(model_cfg)
        except Exception as err:
            raise type(err)(f'{owner}.teacher_config: building the teacher of {name} '
                            f'failed: {err}') from err
        return teacher, name

    def _check_teacher(self, teacher: nn.Module, name: str) -> None:
        """Refuse a teacher that cannot give what the loss terms need."""
        owner = type(self).__name__
        if not isinstance(teacher, ImageClassifier) or not teacher.with_head:
            raise TypeError(f'{owner}.teacher_config: {name} builds a '
                            f'{type(teacher).__name__}; the teacher must be an image '
                            'classifier with a head (a CDSClassifier for the feature '
                            'term)')
        if self.feat_loss_weights:
            if not isinstance(teacher, CDSClassifier):
                raise TypeError(
                    f'{owner}.teacher_config: {name} builds a {type(teacher).__name__}, '
                    'but the feature term (feat_loss_weight > 0) matches the teacher\'s '
                    'CDS projection-head embeddings; give a CDSClassifier teacher or '
                    'set feat_loss_weight=0 (classic KD)')
            if len(teacher.stage_channels) != len(self.stage_channels):
                raise ValueError(
                    f'{owner}.feat_stages: the teacher ({name}) has '
                    f'{len(teacher.stage_channels)} stages {teacher.stage_channels}, '
                    f'the student {len(self.stage_channels)} {self.stage_channels}; '
                    'stage k is matched with stage k, so give both the same '
                    'backbone.out_indices count or set feat_loss_weight=0')
        student_classes = getattr(self.head, 'num_classes', None)
        teacher_classes = getattr(teacher.head, 'num_classes', None)
        if self.kd_loss_weight > 0 and student_classes != teacher_classes:
            raise ValueError(f'{owner}.teacher_config: the teacher ({name}) predicts '
                             f'{teacher_classes} classes, the student {student_classes}; '
                             'the KD term compares their class distributions')
        ours, theirs = self.data_preprocessor, teacher.data_preprocessor
        if getattr(ours, '_enable_normalize', False) and \
                getattr(theirs, '_enable_normalize', False):
            same = torch.allclose(ours.mean.float(), theirs.mean.float()) and \
                torch.allclose(ours.std.float(), theirs.std.float()) and \
                getattr(ours, 'to_rgb', None) == getattr(theirs, 'to_rgb', None)
            if not same:
                raise ValueError(
                    f'{owner}.data_preprocessor: the teacher ({name}) was trained on '
                    f'inputs normalised with mean {theirs.mean.flatten().tolist()}, std '
                    f'{theirs.std.flatten().tolist()}, to_rgb {theirs.to_rgb}, the '
                    f'student normalises with {ours.mean.flatten().tolist()}, '
                    f'{ours.std.flatten().tolist()}, {ours.to_rgb}; the teacher sees the '
                    "student's batch, so give both the same normalisation")

    @staticmethod
    def _load_teacher(teacher: nn.Module, path: Optional[str], name: str) -> None:
        """Load ``path`` into ``teacher``; every tensor of the teacher must be there."""
        owner = 'CDSDistiller'
        if not path:
            raise ValueError(
                f'{owner}.teacher_checkpoint: not set; give the checkpoint of the '
                f'trained teacher ({name}), e.g. --cfg-options model.teacher_checkpoint='
                'work_dirs/<teacher>/epoch_N.pth')
        try:
            checkpoint = load_checkpoint_file(path)
        except FileNotFoundError:
            raise FileNotFoundError(f'{owner}.teacher_checkpoint: file not found: '
                                    f'{path}; train the teacher ({name}) first') from None
        except CheckpointError as err:
            raise CheckpointError(f'{owner}.teacher_checkpoint: {err}') from None
        state_dict = checkpoint['state_dict']
        own = teacher.state_dict()
        missing = [k for k in own if k not in state_dict]
        mismatched = [
            f'{k}: {tuple(state_dict[k].shape)} in the file, {tuple(v.shape)} in the '
            'teacher' for k, v in own.items()
            if k in state_dict and state_dict[k].shape != v.shape
        ]
        if missing or mismatched:
            raise CheckpointError(
                f'{owner}.teacher_checkpoint: {path} does not load into the teacher '
                f'config {name}: {len(missing)} missing keys {missing[:3]}, '
                f'{len(mismatched)} shape mismatches {mismatched[:3]}; point '
                'teacher_config at the config the checkpoint was trained with')
        teacher.load_state_dict({k: state_dict[k] for k in own}, strict=True)
        unexpected = [k for k in state_dict if k not in own]
        if unexpected:
            print_log(f'{owner}.teacher_checkpoint: {len(unexpected)} tensors of {path} '
                      f'are not in the teacher and were ignored: {unexpected[:3]}',
                      logger='current', level=30)

    def _freeze_unused_projection_heads(self, used_stages) -> None:
        """Stop gradients into the projection heads of stages no loss term uses."""
        used = set(used_stages)
        if not used:
            self.cds_neck.requires_grad_(False)
        for part in ('heads', 'projectors'):
            modules = getattr(self.cds_neck, part, None) or []
            for stage, module in enumerate(modules):
                if stage not in used:
                    module.requires_grad_(False)

    def train(self, mode: bool = True) -> 'CDSDistiller':
        """Set the student's mode; the teacher's is eval unless teacher_train_mode."""
        super().train(mode)
        self.teacher.train(mode and self.teacher_train_mode)
        return self

    def _apply(self, fn, *args, **kwargs):
        """Move/cast the teacher with the student (``to``, ``cuda``, ``half``, ...)."""
        super()._apply(fn, *args, **kwargs)
        if 'teacher' in self.__dict__:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def extra_repr(self) -> str:
        """Names the teacher, which the module tree does not show."""
        return (f'teacher={type(self.teacher).__name__} (frozen, not saved), '
                f'teacher_train_mode={self.teacher_train_mode}')

    @torch.no_grad()
    def teacher_outputs(self, views: List[torch.Tensor]
                        ) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """The teacher's view-1 logits (N, K) and, for the feature term, its stage
        embeddings, each (N, V, D_t); no gradient."""
        num_images = views[0].shape[0]
        if self.feat_loss_weights:
            stage_feats, neck_out = self.teacher.forward_views(views)
            return self.teacher.head(neck_out), self.teacher.cds_embeddings(
                stage_feats, len(views))
        # In train mode the teacher normalises with the statistics of the batch it
        # sees, so it sees all views as in the reference code.
        inputs = torch.cat(views) if self.teacher_train_mode else views[0]
        return self.teacher(inputs, mode='tensor')[:num_images], None

    # ------------------------------------------------------------------- losses
    def loss(self, inputs, data_samples: List[DataSample]) -> dict:
        """CE on view 1, the CDS terms, the feature terms and the KD term.

        Args:
            inputs (list[Tensor]): V views, each (N, C, H, W), view 1 first (for
                classic KD also a single (N, C, H, W) batch).
            data_samples (list[DataSample]): N samples with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss``, ``loss_cds_stage{k}`` (if
            ``cds_loss.loss_weight`` > 0), ``loss_feat_stage{k}`` for every matched
            stage and ``loss_kd`` (if ``kd_loss_weight`` > 0).
        """
        owner = type(self).__name__
        if not self.uses_views:
            views = [inputs if isinstance(inputs, torch.Tensor) else
                     split_views(inputs, owner)[0]]
            neck_out = self.extract_feat(views[0])
            losses = self.head.loss(neck_out, data_samples)
        else:
            views = split_views(inputs, owner)
            stage_feats, neck_out = self.forward_views(views)
            losses = self.head.loss(neck_out, data_samples)
            embeddings = self.cds_embeddings(stage_feats, len(views))
            if self.uses_cds:
                losses.update(self.contrastive_losses(embeddings, data_samples))
        teacher_logits, teacher_embeddings = self.teacher_outputs(views)
        if self.feat_loss_weights:
            losses.update(self.feature_losses(embeddings, teacher_embeddings))
        if self.kd_loss_weight > 0:
            losses['loss_kd'] = self.kd_loss(self.head(neck_out), teacher_logits)
        return losses

    def feature_losses(self, student: List[torch.Tensor],
                       teacher: List[torch.Tensor]) -> dict:
        """``{'loss_feat_stage{k}': w_k * ||t_k - A_k(z_k)||_F}`` of matched stages.

        Args:
            student (list[Tensor]): S embeddings (N, V, D_s).
            teacher (list[Tensor]): S embeddings (N, V, D_t).
        """
        losses = {}
        for stage, weight in self.feat_loss_weights.items():
            key = f'stage{stage + 1}'
            z = student[stage]
            if key in self.feat_adapters:
                z = self.feat_adapters[key](z)
            # Over all N * V rows and D columns at once: torch.dist of the 2N x D
            # matrices, as in the reference code.
            diff = teacher[stage].float() - z.float()
            losses[f'loss_feat_{key}'] = weight * torch.linalg.vector_norm(diff)
        return losses

    def kd_loss(self, student_logits: torch.Tensor,
                teacher_logits: torch.Tensor) -> torch.Tensor:
        """``w_kd`` times the soft cross-entropy at temperature T (no T^2).

        Args:
            student_logits (Tensor): (N, K), with gradient.
            teacher_logits (Tensor): (N, K).

        Returns:
            Tensor: scalar :math:`w_{kd}\\,\\mathrm{mean}_n\\,
            [-\\sum_c p^t_c \\log p^s_c]` with :math:`p = \\mathrm{softmax}(\\cdot/T)`.
        """
        temperature = self.kd_temperature
        # fp32: near-one-hot distributions underflow in bf16 autocast.
        target = F.softmax(teacher_logits.float() / temperature, dim=1)
        log_probs = F.log_softmax(student_logits.float() / temperature, dim=1)
        return self.kd_loss_weight * -(target * log_probs).sum(dim=1).mean()
