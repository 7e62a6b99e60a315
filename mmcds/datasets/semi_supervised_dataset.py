"""A data set wrapper that keeps some images' labels and hides the others'."""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.fileio import list_from_file
from mmpretrain.registry import DATASETS

from .sample_pipeline import SeededIndex

UNLABELLED = -1


@DATASETS.register_module()
class SemiSupervisedDataset:
    """Keeps the labels of some images of a data set and marks the rest unlabelled.

    The wrapped data set is read as it is; an unlabelled image's ``gt_label`` is
    replaced by -1 before the pipeline, which ``CDSClassifier`` and
    ``ContrastiveDSLoss`` read as unlabelled (no cross-entropy; only its own other
    views as contrastive positives). The label is replaced rather than dropped
    because mmpretrain's ``ClsDataPreprocessor`` gathers ``gt_label`` from every
    sample of a batch when the first one has it.

    Which images keep their labels, exactly one of:

    - ``labelled_fraction``: in every class, ``max(1, round(fraction * n_c))`` of its
      ``n_c`` images, drawn without replacement with ``numpy``'s generator seeded
      by ``seed`` (the same images for the same data set, fraction and seed);
    - ``labelled_list``: the images themselves, as indices into the data set (ints)
      or image paths relative to its image prefix (strings, e.g.
      ``'n01440764/n01440764_10026.JPEG'``); a string is read as a text file with one
      entry per line.

    ``labelled_indices`` and ``unlabelled_indices`` (positions in this wrapper) are
    what :class:`SemiSupervisedBatchSampler` draws batches from. The wrapper hands
    the seeded indices of ``ExactResumeSampler`` on to the wrapped data set
    (``passes_seeded_indices``), so the semi-supervised configs keep exact resume.

    Args:
        dataset (dict | BaseDataset): the labelled data set (e.g. mmpretrain's
            ``CIFAR100``, ``ImageNet``, ``CustomDataset``).
        labelled_fraction (float, optional): in (0, 1].
        labelled_list (str | Sequence, optional): see above.
        seed (int): seed of the fraction's draw. Defaults to 0.
        drop_unlabelled (bool): keep only the labelled images (e.g. cross-entropy on
            the labelled part alone, the baseline). Defaults to False.
    """

    # Read by ExactResumeSampler: get_data_info hands a SeededIndex on to
    # self.dataset, whose pipeline is seeded by it.
    passes_seeded_indices = True

    def __init__(self,
                 dataset: Union[dict, object],
                 labelled_fraction: Optional[float] = None,
                 labelled_list: Optional[Union[str, Sequence]] = None,
                 seed: int = 0,
                 drop_unlabelled: bool = False):
        if (labelled_fraction is None) == (labelled_list is None):
            raise ValueError('SemiSupervisedDataset.labelled_fraction/labelled_list: '
                             'give exactly one of them')
        if labelled_fraction is not None and not 0 < labelled_fraction <= 1:
            raise ValueError('SemiSupervisedDataset.labelled_fraction: must be in '
                             f'(0, 1], got {labelled_fraction}')
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.labelled_fraction = labelled_fraction
        self.seed = seed
        self.drop_unlabelled = drop_unlabelled
        if labelled_fraction is not None:
            labelled = self._draw_fraction(labelled_fraction, seed)
        else:
            labelled = self._resolve_list(labelled_list)
        self._labelled = np.zeros(len(self.dataset), dtype=bool)
        self._labelled[labelled] = True
        # Positions of this wrapper -> indices of the wrapped data set.
        self._indices = np.flatnonzero(self._labelled) if drop_unlabelled \
            else np.arange(len(self.dataset))

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Nothing to do: the wrapped data set is loaded at construction."""

    @property
    def labelled_indices(self) -> np.ndarray:
        """Positions (in this wrapper) of the images that keep their labels."""
        return np.flatnonzero(self._labelled[self._indices])

    @property
    def unlabelled_indices(self) -> np.ndarray:
        """Positions (in this wrapper) of the unlabelled images."""
        return np.flatnonzero(~self._labelled[self._indices])

    def _labels(self) -> np.ndarray:
        if hasattr(self.dataset, 'get_gt_labels'):
            return np.asarray(self.dataset.get_gt_labels()).reshape(-1)
        return np.array([int(self.dataset.get_data_info(i)['gt_label'])
                         for i in range(len(self.dataset))])

    def _draw_fraction(self, fraction: float, seed: int) -> np.ndarray:
        labels = self._labels()
        rng = np.random.default_rng(seed)
        chosen: List[np.ndarray] = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            count = max(1, int(round(fraction * len(members))))
            chosen.append(rng.choice(members, size=count, replace=False))
        return np.sort(np.concatenate(chosen))

    def _resolve_list(self, entries) -> np.ndarray:
        if isinstance(entries, str):
            if not osp.isfile(entries):
                raise FileNotFoundError('SemiSupervisedDataset.labelled_list: no file '
                                        f'{entries!r} (one index or image path a line)')
            entries = [e.strip() for e in list_from_file(entries) if e.strip()]
            entries = [int(e) if e.isdigit() else e for e in entries]
        indices = [e for e in entries if not isinstance(e, str)]
        names = [e for e in entries if isinstance(e, str)]
        if any(not 0 <= int(i) < len(self.dataset) for i in indices):
            raise ValueError('SemiSupervisedDataset.labelled_list: an index is out of '
                             f'range for a data set of {len(self.dataset)} images')
        if names:
            prefix = getattr(self.dataset, 'img_prefix', '') or ''
            position = {}
            for i in range(len(self.dataset)):
                path = self.dataset.get_data_info(i).get('img_path', '')
                position[osp.relpath(path, prefix) if prefix else path] = i
            missing = [n for n in names if n not in position]
            if missing:
                raise ValueError('SemiSupervisedDataset.labelled_list: '
                                 f'{len(missing)} images are not in the data set, e.g. '
                                 f'{missing[:3]} (paths relative to {prefix!r})')
            indices += [position[n] for n in names]
        if not indices:
            raise ValueError('SemiSupervisedDataset.labelled_list: is empty')
        return np.unique(np.asarray(indices, dtype=int))

    def __len__(self) -> int:
        return len(self._indices)

    def is_labelled(self, idx: int) -> bool:
        """Whether the image at position ``idx`` keeps its label."""
        return bool(self._labelled[self._indices[idx]])

    def get_data_info(self, idx: int) -> dict:
        """The wrapped data set's information, ``gt_label`` -1 if unlabelled.

        A :class:`~mmcds.datasets.SeededIndex` (from ``ExactResumeSampler`` or
        ``SemiSupervisedBatchSampler``) reaches the wrapped data set as its own index
        with the same seed, so the sample's augmentation stays seeded."""
        index = int(self._indices[idx])
        info = self.dataset.get_data_info(
            idx.moved_to(index) if isinstance(idx, SeededIndex) else index)
        if not self._labelled[index]:
            info['gt_label'] = UNLABELLED
        return info

    def __getitem__(self, idx: int):
        return self.dataset.pipeline(self.get_data_info(idx))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({len(self)} images, '
                f'{len(self.labelled_indices)} labelled, of {self.dataset!r})')
