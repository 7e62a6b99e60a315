import os
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from mmcds.datasets import ExactResumeSampler, sample_seed
from mmcds.utils.checkpoint import (CheckpointError, describe_skipped,
                                    resumable_checkpoint)

# The "epoch" under which per-iteration model seeds are drawn; sample seeds use
# real epochs (>= 0), so the two families never share an input.
_MODEL_STREAM = 2**64 - 1


def train_sampler(dataloader):
    """The index sampler of a torch ``DataLoader`` (under a batch sampler too)."""
    sampler = getattr(dataloader, 'sampler', None)
    if hasattr(sampler, 'set_epoch'):
        return sampler
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    return getattr(batch_sampler, 'sampler', sampler)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Make a resumed run continue exactly where the interrupted one was.

    With ``randomness=dict(seed=..., deterministic=True)`` and
    ``train_dataloader.sampler=dict(type='ExactResumeSampler')``, a run killed at
    any point and resumed with ``--resume`` ends with the same weights, bit for bit
    on the CPU, as a run that was never interrupted. Three things make it so:

    - data: :class:`~mmcds.datasets.ExactResumeSampler` seeds each sample's
      augmentation with (seed, epoch, index), so no random state of the data
      pipeline, in any worker, needs saving;
    - model: ``before_train_iter`` seeds python's ``random``, numpy and torch (CPU
      and CUDA) of the training process with (``runner.seed``, iteration), so
      dropout, batch augmentations etc. of iteration i are the same whether or not
      the run was resumed; the checkpoint needs no RNG states either (the optimizer,
      scheduler and message hub states mmengine saves are the rest);
    - position: a checkpoint saved inside an epoch (``CheckpointHook`` with
      ``by_epoch=False, interval=N``) holds the iteration; on resume,
      ``before_train`` tells the sampler to skip the batches of that epoch already
      trained on (mmengine's ``EpochBasedTrainLoop`` would restart the epoch).
      The loop then counts that epoch's batches from 1 in the log.

    Before anything loads, a ``last_checkpoint`` file that a kill left empty, or
    that names a missing or truncated checkpoint, is pointed at the newest
    checkpoint that loads (:meth:`before_run`); keep
    ``CheckpointHook(max_keep_ckpts>=2)``, since mmengine deletes the oldest
    checkpoint before it writes the next one.

    It also sets the sampler's epoch in ``before_train_epoch`` (as mmengine's
    ``DistSamplerSeedHook`` does), so it does not rely on that hook. Listed with
    another sampler (e.g. detection's) it only seeds the iterations and says once
    that the data side of a resume is not exact.
    """

    priority = 'HIGH'

    def before_run(self, runner) -> None:
        """Repair a ``last_checkpoint`` that names a missing or truncated file.

        ``CheckpointHook`` writes ``work_dir/last_checkpoint`` in place after each
        save; a SIGKILL between its truncation and its write leaves the file empty,
        and a checkpoint can be cut off (a full disk, a kill during a copy), and
        ``--resume`` then fails on a checkpoint named '' or in torch's zip reader,
        naming no file. When the run resumes from ``last_checkpoint`` (``resume=True``
        without ``load_from``), this runs before ``load_or_resume`` and points the file
        at the newest checkpoint in the work directory that loads, with a warning
        naming those it skipped and why; when none loads it raises, naming them.
        """
        if not runner._resume or runner._load_from:
            return
        error = None
        if is_main_process():
            try:
                self._repair_last_checkpoint(runner)
            except CheckpointError as raised:
                error = str(raised)
        # Every rank waits for rank 0's repair and stops with its error: a rank that
        # raised alone would leave the others waiting in the next collective until
        # the launcher's timeout.
        if get_world_size() > 1:
            message = [error]
            broadcast_object_list(message, src=0)
            error = message[0]
        if error is not None:
            raise CheckpointError(error)

    @staticmethod
    def _repair_last_checkpoint(runner) -> None:
        path = osp.join(runner.work_dir, 'last_checkpoint')
        candidate, skipped = resumable_checkpoint(runner.work_dir)
        if not skipped:
            return
        with open(path) as f:
            target = f.read().strip()
        state = 'does not exist' if not target or not osp.exists(target) \
            else 'does not load'
        if candidate is None:
            raise CheckpointError(
                f'ExactResumeHook: last_checkpoint named {target!r}, which {state}, '
                f'and no checkpoint in {runner.work_dir} loads: '
                f'{describe_skipped(skipped)}; delete {path} to start afresh, or '
                'resume from a complete checkpoint with --resume PATH')
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            f.write(candidate)
        os.replace(tmp, path)
        runner.logger.warning(
            f'ExactResumeHook: last_checkpoint named {target!r}, which {state}; it '
            f'now names {candidate}, the newest checkpoint that loads (skipped: '
            f'{describe_skipped(skipped)})')

    def before_train(self, runner) -> None:
        dataloader = runner.train_dataloader
        sampler = train_sampler(dataloader)
        exact = isinstance(sampler, ExactResumeSampler)
        if not exact:
            runner.logger.info(
                f'ExactResumeHook: train_dataloader.sampler is '
                f'{type(sampler).__name__}, not ExactResumeSampler: the data '
                'augmentation of a resumed run will differ from an uninterrupted one')
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            # IterBasedTrainLoop advances its dataloader past trained batches itself.
            return
        per_epoch = len(dataloader)
        consumed = runner.iter - runner.epoch * per_epoch
        if consumed == 0:
            return
        if consumed < 0 or consumed > per_epoch:
            raise ValueError(
                f'ExactResumeHook: the checkpoint is at iteration {runner.iter} after '
                f'{runner.epoch} epochs, but an epoch now has {per_epoch} iterations, '
                'which cannot both hold; resume with the batch size, data set and '
                'number of processes of the interrupted run')
        batch_size = getattr(dataloader, 'batch_size', None)
        # A batch sampler that draws its own batches (SemiSupervisedBatchSampler)
        # skips whole batches; otherwise the sampler skips their samples.
        batch_sampler = getattr(dataloader, 'batch_sampler', None)
        skips_batches = hasattr(batch_sampler, 'skip_next_batches')
        if not exact or (batch_size is None and not skips_batches):
            runner.logger.warning(
                f'ExactResumeHook: resumed inside epoch {runner.epoch + 1} after '
                f'{consumed} of its {per_epoch} iterations, but the '
                f'{type(sampler).__name__} sampler cannot skip them, so mmengine '
                'repeats the epoch from its start')
            return
        sampler.set_epoch(runner.epoch)
        if skips_batches:
            batch_sampler.skip_next_batches(consumed)
        else:
            sampler.skip_next(consumed * batch_size)
        runner.logger.info(
            f'ExactResumeHook: resumed inside epoch {runner.epoch + 1}: '
            f'{consumed} of its {per_epoch} iterations were trained before, the '
            f'epoch goes on with iteration {runner.iter + 1} (the log counts the '
            'rest of this epoch from 1)')

    def before_train_epoch(self, runner) -> None:
        sampler = train_sampler(runner.train_dataloader)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        seed = sample_seed(runner.seed, _MODEL_STREAM, runner.iter)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        # Seeds the CUDA generators too, where there are any.
        torch.manual_seed(seed)
