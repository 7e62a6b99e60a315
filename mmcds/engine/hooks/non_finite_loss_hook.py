import os.path as osp
from typing import Dict, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS


def _describe_lr(runner) -> str:
    """The learning rate(s) of the optimizer, e.g. ``'lr 0.05'``."""
    try:
        lrs = runner.optim_wrapper.get_lr()
    except Exception:  # noqa: BLE001  the message must not fail on an odd wrapper
        return 'lr unknown'
    parts = []
    for name, values in lrs.items():
        unique = sorted({float(v) for v in values})
        parts.append(f'{name} ' + '/'.join(f'{v:.6g}' for v in unique))
    return ', '.join(parts) or 'lr unknown'


def non_finite_tensors(named_tensors) -> List[str]:
    """Names of the floating-point tensors that hold a NaN or an infinity."""
    by_device: Dict[torch.device, list] = {}
    for name, tensor in named_tensors:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            by_device.setdefault(tensor.device, []).append((name, tensor))
    bad = []
    for named in by_device.values():
        # One reduction per tensor and one sync per device, not one per tensor.
        finite = torch.stack([torch.isfinite(t.detach()).all() for _, t in named])
        bad += [name for (name, _), ok in zip(named, finite.tolist()) if not ok]
    return bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first non-finite loss, before the optimizer step.

    mmengine's ``train_step`` parses the loss dict and hands the total to
    ``optim_wrapper.update_params`` in one call, so a hook's ``after_train_iter``
    only sees a NaN loss after the optimizer has already written it into the
    weights. This hook therefore checks inside the model's ``parse_losses`` (wrapped
    for the duration of training), i.e. between the forward pass and the backward
    pass, every loss term (keys containing ``loss``, as mmengine sums them) and the
    total. On the first NaN/inf it raises ``FloatingPointError`` with one line naming
    the term(s), the iteration and the learning rate; nothing has been stepped and no
    checkpoint is written, so ``last_checkpoint`` keeps pointing at the last good one.

    Two further guards catch what the loss check cannot see:

    - ``after_train_iter`` (before ``CheckpointHook``, which has priority
      ``VERY_LOW``): the parameters and buffers must be finite, e.g. after gradients
      overflowed on a finite loss; also checks the logged losses of models whose
      ``train_step`` does not call ``parse_losses``.
    - ``before_save_checkpoint``: a checkpoint whose ``state_dict`` is not finite is
      refused, whoever asked for it.

    With ``skip_steps=True`` the optimizer step of an iteration with a non-finite
    loss is skipped instead (no backward, no step; batch-norm statistics the forward
    pass already updated are restored), with a warning per skip and the running
    count logged as ``nonfinite_skipped``; after ``max_skips_in_a_row`` consecutive
    skips training stops, since the weights are then not recovering. Under
    distributed training the ranks agree on skipping (one ``all_reduce`` of a flag).

    Listed for a runner that never trains (``tools/test.py``) it does nothing.

    Args:
        skip_steps (bool): skip non-finite steps instead of stopping. Defaults to
            False.
        max_skips_in_a_row (int): with ``skip_steps``, stop after this many
            consecutive skipped steps. Defaults to 20.
        check_weights (bool): check parameters and buffers after every iteration
            (one reduction per tensor). Defaults to True.
    """

    # Before CheckpointHook (VERY_LOW) and LoggerHook (BELOW_NORMAL).
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 skip_steps: bool = False,
                 max_skips_in_a_row: int = 20,
                 check_weights: bool = True) -> None:
        if int(max_skips_in_a_row) != max_skips_in_a_row or max_skips_in_a_row < 1:
            raise ValueError('NonFiniteLossHook.max_skips_in_a_row: must be a positive '
                             f'integer, got {max_skips_in_a_row!r}')
        self.skip_steps = bool(skip_steps)
        self.max_skips_in_a_row = int(max_skips_in_a_row)
        self.check_weights = bool(check_weights)
        self.num_skipped = 0
        self._skips_in_a_row = 0
        self._skip_pending = False
        self._checked_in_step = False
        self._runner = None
        self._model = None
        self._optim_wrapper = None
        self._buffers: Optional[Dict[str, torch.Tensor]] = None
        self._batch_idx = 0

    # ------------------------------------------------------------------ set-up
    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._runner = runner
        # Instance attributes shadow the class methods for this model/wrapper only;
        # removed again in after_train (a second before_train does not nest them).
        model.__dict__.pop('parse_losses', None)
        if callable(getattr(model, 'parse_losses', None)):
            self._model = model
            model.parse_losses = self._guarded_parse_losses(model.parse_losses)
        if self.skip_steps:
            wrapper = runner.optim_wrapper
            if isinstance(wrapper, OptimWrapperDict):
                raise ValueError('NonFiniteLossHook.skip_steps: not supported with '
                                 'several optimizers (OptimWrapperDict); set '
                                 'skip_steps=False')
            self._optim_wrapper = wrapper
            wrapper.__dict__.pop('update_params', None)
            wrapper.update_params = self._skippable_update(wrapper.update_params)
            runner.message_hub.update_scalar('train/nonfinite_skipped', 0)

    def after_train(self, runner) -> None:
        if self._model is not None:
            self._model.__dict__.pop('parse_losses', None)
        if self._optim_wrapper is not None:
            self._optim_wrapper.__dict__.pop('update_params', None)
        self._model = self._optim_wrapper = None

    # --------------------------------------------------------------- the checks
    def _where(self, runner) -> str:
        try:
            per_epoch = len(runner.train_dataloader)
        except TypeError:
            per_epoch = '?'
        return (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch '
                f'{self._batch_idx + 1}/{per_epoch}), {_describe_lr(runner)}')

    @staticmethod
    def _last_good(runner) -> str:
        """What ``--resume`` would pick: the ``last_checkpoint`` file's entry
        (CheckpointHook names a new checkpoint in the message hub before saving it,
        so the hub may name the very checkpoint being refused)."""
        path = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(path):
            with open(path) as f:
                last = f.read().strip()
            if last:
                return f'--resume picks {last}'
        return 'no checkpoint has been written'

    @staticmethod
    def _bad_terms(log_vars: dict, total=None) -> List[str]:
        terms = {key: torch.as_tensor(value).detach() for key, value in log_vars.items()
                 if 'loss' in key}
        checked = list(terms.values()) + ([total.detach()] if total is not None else [])
        if not checked:
            return []
        # One reduction on the device and one host read per step: this check sits
        # between the forward and the backward pass, where every read stalls the GPU.
        if bool(torch.stack([torch.isfinite(t).all() for t in checked]).all()):
            return []
        bad = []
        for key, value in terms.items():
            if not bool(torch.isfinite(value).all()):
                bad.append(f'{key} = {float(value.float().mean())}')
        if not bad and total is not None and not bool(torch.isfinite(total).all()):
            bad.append(f'loss = {float(total.detach().float().mean())} (the sum '
                       'overflowed)')
        return bad

    @staticmethod
    def _any_rank(flag: bool) -> bool:
        """Whether ``flag`` holds on any rank (all ranks must take the same branch,
        or the others would wait forever in the backward pass's all-reduce)."""
        if get_world_size() <= 1 or not torch_dist.is_initialized():
            return flag
        tensor = torch.tensor([1.0 if flag else 0.0])
        if torch_dist.get_backend() == 'nccl':
            tensor = tensor.cuda()
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.MAX)
        return bool(tensor.item() > 0)

    def _guarded_parse_losses(self, parse_losses):
        def guarded(losses):
            loss, log_vars = parse_losses(losses)
            self._checked_in_step = True
            bad = self._bad_terms(log_vars, loss)
            if self._any_rank(bool(bad)):
                self._on_non_finite(bad or ['a loss on another rank'])
            return loss, log_vars
        return guarded

    def _on_non_finite(self, bad: List[str]) -> None:
        runner = self._runner
        terms = ', '.join(bad)
        if not self.skip_steps:
            raise FloatingPointError(
                f'NonFiniteLossHook: non-finite loss at {self._where(runner)}: '
                f'{terms}; training stopped before the optimizer step, no checkpoint written; '
                f'{self._last_good(runner)}. Lower the learning rate or clip '
                'gradients (optim_wrapper.clip_grad), check the data, or set '
                'NonFiniteLossHook(skip_steps=True)')
        self._skips_in_a_row += 1
        if self._skips_in_a_row > self.max_skips_in_a_row:
            raise FloatingPointError(
                f'NonFiniteLossHook: non-finite loss at {self._where(runner)}: '
                f'{terms}; {self.max_skips_in_a_row} steps in a row were skipped, so the model '
                f'is not recovering; training stopped; {self._last_good(runner)}. '
                'Lower the learning rate or clip gradients (optim_wrapper.clip_grad)')
        self._skip_pending = True
        self.num_skipped += 1
        runner.logger.warning(
            f'NonFiniteLossHook: skipped the optimizer step of {self._where(runner)}: '
            f'non-finite loss {terms}; {self.num_skipped} step(s) skipped so far')

    def _skippable_update(self, update_params):
        def update(loss, *args, **kwargs):
            if self._skip_pending:
                self._skip_pending = False
                self._restore_buffers()
                return None
            self._skips_in_a_row = 0
            return update_params(loss, *args, **kwargs)
        return update

    def _restore_buffers(self) -> None:
        """Undo what the forward pass of a skipped step did to the buffers (batch-norm
        running statistics already absorbed the non-finite activations)."""
        if self._model is None or self._buffers is None:
            return
        with torch.no_grad():
            for name, buffer in self._model.named_buffers():
                saved = self._buffers.get(name)
                if saved is not None:
                    buffer.copy_(saved)

    # -------------------------------------------------------------- hook points
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._batch_idx = batch_idx
        self._checked_in_step = False
        if self.skip_steps and self._model is not None:
            # Buffers are small (batch-norm statistics), so a copy per step is cheap.
            self._buffers = {name: b.detach().clone()
                             for name, b in self._model.named_buffers()}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if self.skip_steps:
            runner.message_hub.update_scalar('train/nonfinite_skipped',
                                             self.num_skipped)
        if not self._checked_in_step and isinstance(outputs, dict):
            # A train_step that does not go through parse_losses: too late to keep
            # the step from happening, but still before any checkpoint.
            bad = self._bad_terms(outputs)
            if bad:
                raise FloatingPointError(
                    'NonFiniteLossHook: non-finite loss at '
                    f'{self._where(runner)} (seen after the optimizer step): '
                    f'{", ".join(bad)}; training stopped, no checkpoint written; {self._last_good(runner)}. Lower '
                    'the learning rate or clip gradients (optim_wrapper.clip_grad)')
        if self.check_weights:
            model = runner.model.module if is_model_wrapper(runner.model) \
                else runner.model
            bad = non_finite_tensors(model.state_dict(keep_vars=True).items())
            if bad:
                losses = ''
                if isinstance(outputs, dict) and 'loss' in outputs:
                    losses = f' (loss = {float(torch.as_tensor(outputs["loss"])):.4g})'
                raise FloatingPointError(
                    f'NonFiniteLossHook: {len(bad)} weight tensor(s) became non-finite '
                    f'at {self._where(runner)}, e.g. {", ".join(bad[:3])}, while the '
                    f'loss was still finite{losses}: the training diverged and the '
                    'forward pass (batch-norm statistics) or the gradients overflowed; '
                    'training stopped, no checkpoint written; '
                    f'{self._last_good(runner)}. Lower the learning rate or clip gradients '
                    '(optim_wrapper.clip_grad)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = non_finite_tensors(checkpoint.get('state_dict', {}).items())
        if bad:
            meta = checkpoint.get('meta', {})
            raise FloatingPointError(
                f'NonFiniteLossHook: refusing to save a checkpoint (epoch '
                f'{meta.get("epoch")}, iteration {meta.get("iter")}) whose '
                f'{len(bad)} tensor(s) are not finite (e.g. {", ".join(bad[:3])}); '
                f'{self._last_good(runner)}. Lower the learning rate or clip gradients')
