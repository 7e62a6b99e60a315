import glob
import os
import os.path as osp
import random

import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from mmcds.datasets import ExactResumeSampler, sample_seed

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

    Before anything loads, a ``last_checkpoint`` file that a kill left empty or
    pointing at a missing file is repaired (:meth:`before_run`); keep
    ``CheckpointHook(max_keep_ckpts>=2)``, since mmengine deletes the oldest
    checkpoint before it writes the next one.

    It also sets the sampler's epoch in ``before_train_epoch`` (as mmengine's
    ``DistSamplerSeedHook`` does), so it does not rely on that hook. Listed with
    another sampler (e.g. detection's) it only seeds the iterations and says once
    that the data side of a resume is not exact.
    """

    priority = 'HIGH'

    def before_run(self, runner) -> None:
        """Repair a ``last_checkpoint`` that a kill left empty or dangling.

        ``CheckpointHook`` writes ``work_dir/last_checkpoint`` in place after each
        save; a SIGKILL between its truncation and its write leaves the file empty,
        and ``--resume`` then fails on a checkpoint named ''. This runs before
        ``load_or_resume`` and points the file at the newest checkpoint in the work
        directory that loads (or removes it when none does, so the run starts
        afresh), with a warning.
        """
        if is_main_process():
            self._repair_last_checkpoint(runner)
        barrier()

    @staticmethod
    def _repair_last_checkpoint(runner) -> None:
        path = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(path):
            return
        with open(path) as f:
            target = f.read().strip()
        if target and ('://' in target or osp.isfile(target)):
            return
        candidates = sorted(glob.glob(osp.join(runner.work_dir, '*.pth')),
                            key=osp.getmtime, reverse=True)
        for candidate in candidates:
            try:
                checkpoint = torch.load(candidate, map_location='cpu')
            except Exception:  # noqa: BLE001  a partly written file
                continue
            if isinstance(checkpoint, dict) and 'meta' in checkpoint:
                tmp = f'{path}.tmp'
                with open(tmp, 'w') as f:
                    f.write(candidate)
                os.replace(tmp, path)
                runner.logger.warning(
                    f'ExactResumeHook: last_checkpoint named {target!r}, which does '
                    f'not exist (the run was killed while saving); it now names '
                    f'{candidate}, the newest checkpoint that loads')
                return
        os.remove(path)
        runner.logger.warning(
            f'ExactResumeHook: last_checkpoint named {target!r}, which does not '
            'exist, and no checkpoint in the work directory loads; removed it, so '
            '--resume starts afresh')

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
        if not exact or batch_size is None:
            runner.logger.warning(
                f'ExactResumeHook: resumed inside epoch {runner.epoch + 1} after '
                f'{consumed} of its {per_epoch} iterations, but the '
                f'{type(sampler).__name__} sampler cannot skip them, so mmengine '
                'repeats the epoch from its start')
            return
        sampler.set_epoch(runner.epoch)
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
