"""Batches with a fixed number of labelled and unlabelled images."""
from typing import Iterator, List

import numpy as np
from mmengine.dist import get_dist_info
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler

from ..sample_pipeline import SeededIndex
from .exact_resume_sampler import ExactResumeSampler


@DATA_SAMPLERS.register_module()
class SemiSupervisedBatchSampler(BatchSampler):
    """Batches of ``num_labelled`` labelled and ``batch_size - num_labelled``
    unlabelled images of a :class:`SemiSupervisedDataset`.

    An epoch goes once over (this rank's share of) the unlabelled images in a new
    random order, ``batch_size - num_labelled`` per batch (a last partial batch is
    dropped); each batch's labelled images come from a stream that walks all
    labelled images in random order and starts a new random order when they run out,
    so labelled images repeat within an epoch when they are fewer. The ratio
    labelled : unlabelled in a batch is ``num_labelled : batch_size - num_labelled``.

    Orders are drawn from ``seed + epoch`` (the same on every rank; each rank takes
    every ``world_size``-th entry), where seed and epoch are those of ``sampler``
    (mmengine's ``DefaultSampler``, whose ``set_epoch`` the train loop calls); the
    sampler's own order is not used.

    With ``sampler`` an :class:`ExactResumeSampler` (the data bases' sampler) the
    batches hold :class:`~mmcds.datasets.SeededIndex` es, so every image's
    augmentation is seeded by (seed, epoch, index, pass of the labelled stream),
    and :meth:`skip_next_batches` lets :class:`~mmcds.engine.ExactResumeHook`
    continue an epoch after the batches a resumed run has trained on: a resumed
    run ends as an uninterrupted one.

    Args:
        sampler (Sampler): the loader's sampler; its ``dataset`` must be a
            :class:`SemiSupervisedDataset`.
        batch_size (int): images per batch on this rank (the dataloader's).
        num_labelled (int): labelled images per batch, 0 < num_labelled <
            batch_size.
    """

    def __init__(self, sampler: Sampler, batch_size: int, num_labelled: int):
        dataset = getattr(sampler, 'dataset', None)
        if not hasattr(dataset, 'labelled_indices'):
            raise ValueError('SemiSupervisedBatchSampler: the dataset is a '
                             f'{type(dataset).__name__}; wrap it in '
                             "dict(type='SemiSupervisedDataset', dataset=...)")
        if not 0 < num_labelled < batch_size:
            raise ValueError('SemiSupervisedBatchSampler.num_labelled: must be in '
                             f'1..{batch_size - 1} for batches of {batch_size}, got '
                             f'{num_labelled}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.num_labelled = num_labelled
        self.drop_last = True
        self.labelled = np.asarray(dataset.labelled_indices)
        self.unlabelled = np.asarray(dataset.unlabelled_indices)
        self.rank, self.world_size = get_dist_info()
        self.seeded = isinstance(sampler, ExactResumeSampler)
        self._skip = 0
        if len(self) == 0:
            raise ValueError(
                'SemiSupervisedBatchSampler: the data set has '
                f'{len(self.unlabelled)} unlabelled images, fewer than one batch of '
                f'{batch_size - num_labelled} per rank; lower num_labelled or use a '
                'plain sampler')

    def __len__(self) -> int:
        per_rank = len(self.unlabelled) // self.world_size
        return per_rank // (self.batch_size - self.num_labelled)

    def skip_next_batches(self, num_batches: int) -> None:
        """Leave out the first ``num_batches`` batches of this rank the next time the
        sampler is iterated (once; later epochs are whole again)."""
        if num_batches < 0 or num_batches > len(self):
            raise ValueError(
                f'SemiSupervisedBatchSampler.skip_next_batches: cannot skip '
                f'{num_batches} of the {len(self)} batches of an epoch on this rank')
        self._skip = int(num_batches)

    def __iter__(self) -> Iterator[List[int]]:
        seed = getattr(self.sampler, 'seed', 0) or 0
        epoch = getattr(self.sampler, 'epoch', 0)
        rng = np.random.default_rng(seed + epoch)
        num_batches = len(self)
        num_unlabelled = self.batch_size - self.num_labelled
        unlabelled = rng.permutation(self.unlabelled)[self.rank::self.world_size]
        needed = num_batches * self.num_labelled * self.world_size
        cycles = -(-needed // len(self.labelled))
        labelled = np.concatenate(
            [rng.permutation(self.labelled) for _ in range(cycles)])
        # the pass of the labelled stream each entry belongs to (its draw)
        passes = np.repeat(np.arange(cycles), len(self.labelled))
        labelled = labelled[:needed][self.rank::self.world_size]
        passes = passes[:needed][self.rank::self.world_size]
        skip, self._skip = self._skip, 0
        for b in range(skip, num_batches):
            lab = slice(b * self.num_labelled, (b + 1) * self.num_labelled)
            unlab = slice(b * num_unlabelled, (b + 1) * num_unlabelled)
            indices = labelled[lab].tolist() + unlabelled[unlab].tolist()
            if not self.seeded:
                yield indices
                continue
            # an unlabelled image comes once an epoch: its first draw
            draws = passes[lab].tolist() + [0] * num_unlabelled
            yield [SeededIndex(index, seed, epoch, draw)
                   for index, draw in zip(indices, draws)]
