from typing import Iterator, Optional, Sized

from mmengine.dataset import DefaultSampler
from mmengine.registry import DATA_SAMPLERS

from ..sample_pipeline import SeededIndex, leaf_datasets, wrap_pipeline


# Registered in mmengine's root registry so mmpretrain- and mmdet-scope configs both
# find it.
@DATA_SAMPLERS.register_module()
class ExactResumeSampler(DefaultSampler):
    """``DefaultSampler`` whose samples are augmented as a function of (seed, epoch,
    index), and that can skip the part of an epoch a resumed run has trained on.

    Why: mmengine seeds each dataloader worker once, so a sample's augmentation
    depends on everything the worker drew before it (which samples, how many
    workers, whether the run was resumed). Here every index is yielded as a
    :class:`~mmcds.datasets.SeededIndex` carrying the sampler's seed and epoch, and
    the dataset's pipeline (wrapped by :class:`~mmcds.datasets.SamplePipeline` when
    the sampler is built, i.e. before any worker starts) seeds python's ``random``,
    numpy and torch with ``sample_seed(seed, epoch, index)`` before transforming the
    sample. The order of the epoch is ``DefaultSampler``'s (``randperm`` seeded with
    ``seed + epoch``). So batch k of epoch e is the same tensor in an uninterrupted
    run, a resumed run, with 0 or 8 workers.

    With :class:`~mmcds.engine.ExactResumeHook` (which calls :meth:`skip_next` and
    ``set_epoch``), resuming from a checkpoint saved inside an epoch continues with
    the batch after the checkpoint instead of restarting the epoch.

    The dataset must own its pipeline (an mmengine ``BaseDataset``), or be a wrapper
    that hands each :class:`~mmcds.datasets.SeededIndex` on to the one dataset it
    wraps (``passes_seeded_indices = True``, as
    :class:`~mmcds.datasets.SemiSupervisedDataset`): wrappers like ``ConcatDataset``
    or ``RepeatDataset`` compute plain indices for the datasets they wrap, which
    would lose the seed, so they are refused.

    Args:
        dataset (Sized): the dataset.
        shuffle (bool): shuffle each epoch. Defaults to True.
        seed (int, optional): seed of the order and of the augmentation; the runner
            passes ``randomness.seed``. Defaults to None (a random seed shared by
            all ranks, as in ``DefaultSampler``).
        round_up (bool): as in ``DefaultSampler``. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        leaves = list(leaf_datasets(dataset))
        passes_index = leaves == [dataset] or leaves == [
            vars(dataset).get('_dataset')] or (
                getattr(dataset, 'passes_seeded_indices', False)
                and leaves == [getattr(dataset, 'dataset', None)])
        if not leaves or not passes_index:
            raise ValueError(
                f'ExactResumeSampler.dataset: {type(dataset).__name__} does not hand '
                'its indices to one dataset with a pipeline, so per-sample seeds '
                'would be lost; use DefaultSampler for this dataset')
        wrap_pipeline(dataset)
        self._skip = 0

    def skip_next(self, num_samples: int) -> None:
        """Leave out the first ``num_samples`` indices of this rank the next time
        the sampler is iterated (once; later epochs are whole again)."""
        if num_samples < 0 or num_samples > self.num_samples:
            raise ValueError(
                f'ExactResumeSampler.skip_next: cannot skip {num_samples} of the '
                f'{self.num_samples} samples of an epoch on this rank')
        self._skip = int(num_samples)

    def __iter__(self) -> Iterator[SeededIndex]:
        indices = list(super().__iter__())
        skip, self._skip = self._skip, 0
        seed, epoch = self.seed, self.epoch
        # Lazy, so that a long epoch does not build all its objects up front.
        return (SeededIndex(index, seed, epoch) for index in indices[skip:])
