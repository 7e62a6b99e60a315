"""A minimal plain-PyTorch CDS training step: the yardstick of the benchmark.

What ``CDSClassifier`` computes, written as few lines of plain PyTorch as possible
(no mmengine ``train_step``, data preprocessor, ``DataSample`` or optimizer wrapper),
on the same modules, so that ``tools/analysis_tools/benchmark.py`` can tell what the
framework adds to a CDS step.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F


def plain_supcon(z: torch.Tensor, labels: torch.Tensor,
                 temperature: float) -> torch.Tensor:
    r"""SupCon's ``L^sup_out`` on M unit-norm rows, as SupCon's own code writes it.

    :math:`-\frac{1}{M}\sum_i \frac{1}{|P(i)|}\sum_{p\in P(i)}\log
    \frac{\exp(z_i\cdot z_p/\tau)}{\sum_{a\neq i}\exp(z_i\cdot z_a/\tau)}` with
    :math:`P(i)` every other row of the same label.

    Args:
        z (Tensor): (M, D), all views of all images, unit-norm rows.
        labels (Tensor): (M,) the label of every row (every view carries its
            image's label); every row must have a positive.
    """
    num_rows = z.shape[0]
    eye = torch.eye(num_rows, dtype=torch.bool, device=z.device)
    positives = (labels[:, None] == labels[None, :]) & ~eye
    logits = (z @ z.t() / temperature).masked_fill(eye, float('-inf'))
    log_prob = (logits - logits.logsumexp(dim=1, keepdim=True)).masked_fill(eye, 0.)
    return -((log_prob * positives).sum(dim=1) / positives.sum(dim=1)).mean()


class PlainCDSStep:
    """One CDS training step in plain PyTorch, on a ``CDSClassifier``'s modules.

    For V uint8 view batches (N, 3, H, W) (BGR, as ``default_collate`` stacks them)
    and labels (N,): RGB flip, ``(x - mean) / std``, the backbone once on the
    view-major (V N)-batch, cross-entropy of ``head.fc`` on the pooled last stage of
    view 1, and for every stage k in ``cds_stages``
    :math:`\\lambda\\,\\mathrm{SupCon}(\\mathrm{normalize}(\\mathrm{GAP}(h_k(f_k))))`
    over the V N embeddings (in float32 outside autocast, as ``ContrastiveDSLoss``);
    then ``backward`` and ``torch.optim.SGD``.

    Only the setting the benchmark's CDS configs use is covered (GAP neck,
    ``LinearClsHead`` with plain cross-entropy, ``CDSNeck`` without projector,
    SupCon with labels, no ``base_temperature``); anything else is refused.

    Args:
        model (CDSClassifier): whose modules (and weights) are used, not copied.
        optimizer (dict): ``type='SGD'`` and its arguments (a config's
            ``optim_wrapper.optimizer``).
        amp_dtype (torch.dtype, optional): autocast dtype, the CDS row's: bfloat16
            without scaling (the CPU, and GPUs with native bfloat16, as
            ``BF16AmpOptimWrapper``), or float16 with a dynamic ``GradScaler`` (as
            ``AmpOptimWrapper``); None runs in float32.
        channels_last (bool): feed the backbone NHWC inputs.
        compile (bool | dict, optional): ``torch.compile`` the forward and loss
            (a dict: its keyword arguments, e.g. ``dict(mode='reduce-overhead')``).
    """

    def __init__(self, model, optimizer: dict, amp_dtype: Optional[torch.dtype] = None,
                 channels_last: bool = False,
                 compile: Union[bool, dict, None] = None):
        owner = 'PlainCDSStep'
        neck = type(model.neck).__name__ if model.with_neck else None
        loss = model.cds_loss
        ce = getattr(model.head, 'loss_module', None)
        checks = {
            'model.neck (GlobalAveragePooling)': neck == 'GlobalAveragePooling',
            'model.head (LinearClsHead)': type(model.head).__name__ == 'LinearClsHead',
            'model.head.loss (plain CrossEntropyLoss)':
            type(ce).__name__ == 'CrossEntropyLoss' and not ce.use_sigmoid
            and not ce.use_soft and ce.class_weight is None and ce.loss_weight == 1,
            'model.cds_neck.projector (None)':
            getattr(model.cds_neck, 'projectors', None) is None,
            'model.cds_loss (supervised, no base_temperature, no gathering)':
            loss.supervised and loss.base_temperature is None
            and not loss.gather_distributed,
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f'{owner}.{field.split()[0]}: the plain reference '
                                 f'covers only {field.split(" ", 1)[1]}')
        # mmengine's registry keys (_scope_) are no optimizer arguments
        optimizer = {k: v for k, v in optimizer.items() if not k.startswith('_')}
        optimizer_type = optimizer.pop('type')
        if optimizer_type != 'SGD':
            raise ValueError(f'{owner}.optimizer: the plain reference uses SGD, got '
                             f'{optimizer_type!r}')
        self.model = model
        preprocessor = model.data_preprocessor
        self.to_rgb = bool(preprocessor.to_rgb)
        self.mean, self.std = preprocessor.mean, preprocessor.std
        self.temperature, self.loss_weight = loss.temperature, loss.loss_weight
        self.stages = tuple(model.cds_stages)
        self.heads = model.cds_neck.heads
        self.optimizer = torch.optim.SGD(model.parameters(), **optimizer)
        self.amp_dtype = amp_dtype
        # fp16 needs loss scaling, as AmpOptimWrapper's dynamic scaler does.
        self.scaler = torch.amp.GradScaler() if amp_dtype == torch.float16 else None
        self.channels_last = channels_last
        options = compile if isinstance(compile, dict) else {}
        self.forward_loss = self.losses if compile is None or compile is False \
            else torch.compile(self.losses, **options)

    def losses(self, views: Sequence[torch.Tensor],
               labels: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The total loss and its terms (``loss``, ``loss_cds_stage{k}``, k 1-based)
        for V uint8 view batches (N, 3, H, W) and labels (N,)."""
        num_images = labels.numel()
        x = torch.cat(list(views)).to(self.mean.device)
        if self.to_rgb:
            x = x.flip(1)
        x = (x.float() - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats = self.model.backbone(x)
        logits = self.model.head.fc(feats[-1][:num_images].mean(dim=(2, 3)))
        terms = {'loss': F.cross_entropy(logits.float(), labels)}
        view_labels = labels.repeat(len(views))
        for stage, head in zip(self.stages, self.heads):
            z = head(feats[stage]).mean(dim=(2, 3))
            with torch.autocast(device_type=x.device.type, enabled=False):
                z = F.normalize(z.float(), dim=1)
                terms[f'loss_cds_stage{stage + 1}'] = self.loss_weight * plain_supcon(
                    z, view_labels, self.temperature)
        return sum(terms.values()), terms

    def __call__(self, views: Sequence[torch.Tensor],
                 labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One training step (forward, backward, SGD update); returns the terms."""
        self.model.train()
        with torch.autocast(device_type=labels.device.type, dtype=self.amp_dtype,
                            enabled=self.amp_dtype is not None):
            total, terms = self.forward_loss(views, labels)
        if self.scaler is None:
            total.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return terms
