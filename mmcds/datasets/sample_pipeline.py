"""Per-sample wrapping of a dataset's pipeline: seeding and naming bad samples.

Not registered: :class:`ExactResumeSampler` and :class:`DataErrorHook` install
:class:`SamplePipeline` on the datasets they serve, before any dataloader worker
starts (so the workers, forked or spawned, get the wrapped pipeline).
"""
import os.path as osp
import random
from contextlib import contextmanager
from typing import Iterator, List, Optional

import numpy as np
import torch


class SampleLoadError(RuntimeError):
    """A sample of a data set could not be loaded or transformed; the message names
    the data set, the sample index and the file."""


class SeededIndex(int):
    """A dataset index that also carries the seed of its sample's augmentation.

    ``ExactResumeSampler`` yields these instead of plain ints. The dataset uses it as
    an ordinary index (``int`` subclass) and mmengine's ``BaseDataset.get_data_info``
    stores it as ``results['sample_idx']``, where :class:`SamplePipeline` reads it. A
    wrapper that maps its positions to another dataset's indices (e.g.
    :class:`~mmcds.datasets.SemiSupervisedDataset`) hands on :meth:`moved_to`.

    Args:
        value (int): the index into the dataset.
        seed (int): the sampler's seed.
        epoch (int): the epoch the index is drawn for.
        draw (int): which draw of this index within the epoch, for samplers that
            draw an index more than once an epoch (0, the default, for the first;
            :class:`~mmcds.datasets.SemiSupervisedBatchSampler`'s labelled stream
            counts its passes), so that a repeat gets its own augmentation.
    """

    def __new__(cls, value: int, seed: int, epoch: int, draw: int = 0):
        obj = super().__new__(cls, value)
        obj.seed = int(seed)
        obj.epoch = int(epoch)
        obj.draw = int(draw)
        return obj

    def __reduce__(self):
        # Sent to dataloader workers through a pickle queue.
        return SeededIndex, (int(self), self.seed, self.epoch, self.draw)

    def __repr__(self) -> str:
        draw = f', draw={self.draw}' if self.draw else ''
        return f'SeededIndex({int(self)}, seed={self.seed}, epoch={self.epoch}{draw})'

    def moved_to(self, value: int) -> 'SeededIndex':
        """The index ``value`` (of a wrapped dataset) with this one's seed, epoch and
        draw."""
        return SeededIndex(value, self.seed, self.epoch, self.draw)

    def sample_seed(self) -> int:
        """The 64-bit seed of this sample: a hash of (seed, epoch, index[, draw])."""
        return sample_seed(self.seed, self.epoch, int(self), self.draw)


def sample_seed(seed: int, epoch: int, index: int, draw: int = 0) -> int:
    """A 64-bit seed that depends on (seed, epoch, index, draw) only.

    ``numpy.random.SeedSequence`` mixes the numbers, so neighbouring indices or
    epochs give unrelated streams. ``draw`` 0 is left out of the mix (the seeds of
    first draws are those of (seed, epoch, index)).
    """
    entropy = [int(seed) % 2**64, int(epoch) % 2**64, int(index) % 2**64]
    if draw:
        entropy.append(int(draw) % 2**64)
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


@contextmanager
def seeded_rngs(seed: int):
    """Seed python's ``random``, numpy's global RNG and torch's CPU generator with
    ``seed`` for the body, then put their previous states back (so that seeding a
    sample in the main process, ``num_workers=0``, leaves the model's randomness
    alone)."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    # Not torch.manual_seed: that would also reseed every CUDA generator.
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def file_problem(path) -> Optional[str]:
    """Why the local file ``path`` cannot be an image, as far as ``os.stat`` tells:
    ``'does not exist'``, ``'is empty (0 bytes)'``, or None."""
    if not isinstance(path, str) or '://' in path:
        return None
    if not osp.exists(path):
        return 'does not exist'
    if osp.isfile(path) and osp.getsize(path) == 0:
        return 'is empty (0 bytes)'
    return None


def describe_dataset(dataset) -> str:
    """``CustomDataset(data_root='...', data_prefix='train')``-like summary."""
    parts = []
    data_root = getattr(dataset, 'data_root', None)
    if data_root:
        parts.append(f'data_root={data_root!r}')
    ann_file = getattr(dataset, 'ann_file', None)
    if ann_file:
        parts.append(f'ann_file={ann_file!r}')
    prefix = getattr(dataset, 'data_prefix', None)
    if isinstance(prefix, dict):
        prefix = {k: v for k, v in prefix.items() if v}
        if len(prefix) == 1:
            prefix = next(iter(prefix.values()))
    if prefix:
        parts.append(f'data_prefix={prefix!r}')
    return f'{type(dataset).__name__}({", ".join(parts)})'


def leaf_datasets(dataset) -> Iterator:
    """The datasets that own a pipeline, under mmengine's wrappers
    (``ConcatDataset``, ``RepeatDataset``, ``ClassBalancedDataset``, ...)."""
    inner = vars(dataset).get('_dataset') if hasattr(dataset, '__dict__') else None
    if inner is not None:
        # mmengine's _SlicedDataset (num_batch_per_epoch) forwards attribute reads,
        # so its pipeline would look like its own: go to the dataset it slices.
        yield from leaf_datasets(inner)
        return
    if hasattr(dataset, 'pipeline'):
        yield dataset
        return
    children: List = list(getattr(dataset, 'datasets', None) or [])
    if getattr(dataset, 'dataset', None) is not None:
        children.append(dataset.dataset)
    for child in children:
        yield from leaf_datasets(child)


class SamplePipeline:
    """Wraps a dataset's ``pipeline`` (a callable on the ``results`` dict).

    - When ``results['sample_idx']`` is a :class:`SeededIndex`, the pipeline runs
      under :func:`seeded_rngs` with the sample's seed, so the sample's augmentation
      is a function of (seed, epoch, index) alone: the same in any worker, with any
      ``num_workers``, and after a resume. Plain indices run unseeded.
    - An exception in the pipeline becomes a :class:`SampleLoadError` whose one-line
      message names the data set, the sample index and ``img_path``, and says what is
      wrong with the file where that can be told (missing, 0 bytes, not decodable).

    Attribute access falls through to the wrapped pipeline, so code that reads e.g.
    ``dataset.pipeline.transforms`` keeps working.

    Args:
        pipeline (callable): the dataset's pipeline, usually an mmengine ``Compose``.
        name (str): how the data set is named in errors, e.g.
            ``"train_dataloader.dataset = CustomDataset(...)"``.
    """

    def __init__(self, pipeline, name: str) -> None:
        self.pipeline = pipeline
        self.name = name

    def __call__(self, results: dict):
        index = results.get('sample_idx') if isinstance(results, dict) else None
        seed = index.sample_seed() if isinstance(index, SeededIndex) else None
        if seed is not None:
            # Downstream code (PackInputs meta keys) gets a plain int.
            results['sample_idx'] = int(index)
        try:
            if seed is None:
                return self.pipeline(results)
            with seeded_rngs(seed):
                return self.pipeline(results)
        except SampleLoadError:
            raise
        except Exception as exc:
            raise SampleLoadError(self._message(results, index, exc)) from exc

    def _message(self, results, index, exc: Exception) -> str:
        path = results.get('img_path') if isinstance(results, dict) else None
        detail = ' '.join(str(exc).split()) or '(no message)'
        cause = f'{type(exc).__name__}: {detail}'
        where = f'{self.name}: sample {int(index) if index is not None else "?"}'
        if path is None:
            return f'{where}: the pipeline failed: {cause}'
        problem = file_problem(path)
        if problem is None and _is_decode_error(exc):
            problem = 'cannot be decoded (corrupt or not an image)'
        if problem is not None:
            return (f'{where}: image file {path} {problem}; replace or remove it '
                    f'(tools/misc/check_data.py lists every such file) [{cause}]')
        return f'{where}, image file {path}: the pipeline failed: {cause}'

    def __getattr__(self, name):
        # Only called for attributes not found on the wrapper itself.
        if name in ('pipeline', 'name') or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.pipeline, name)

    def __repr__(self) -> str:
        return f'SamplePipeline({self.pipeline!r})'


def _is_decode_error(exc: Exception) -> bool:
    """Errors mmcv's ``LoadImageFromFile`` raises on undecodable bytes: its own
    ``failed to load image`` assertion, cv2's ``imdecode`` assertion, PIL's
    ``UnidentifiedImageError``."""
    text = f'{type(exc).__module__}.{type(exc).__name__}: {exc}'
    return any(key in text for key in (
        'failed to load image', 'imdecode', 'cv2.error', 'UnidentifiedImageError',
        'cannot identify image', 'image file is truncated', 'turbojpeg'))


def wrap_pipeline(dataset, name_prefix: str = '') -> List:
    """Install :class:`SamplePipeline` on every leaf dataset of ``dataset`` (once).

    Args:
        dataset: a dataset, possibly an mmengine dataset wrapper.
        name_prefix (str): e.g. ``'train_dataloader.dataset'``, used in errors.

    Returns:
        list: the leaf datasets whose pipeline is wrapped.
    """
    leaves = list(leaf_datasets(dataset))
    for leaf in leaves:
        name = describe_dataset(leaf)
        if name_prefix:
            name = f'{name_prefix} = {name}'
        if isinstance(leaf.pipeline, SamplePipeline):
            if name_prefix:
                leaf.pipeline.name = name
            continue
        leaf.pipeline = SamplePipeline(leaf.pipeline, name)
    return leaves


__all__ = [
    'SampleLoadError', 'SeededIndex', 'SamplePipeline', 'describe_dataset',
    'file_problem', 'leaf_datasets', 'sample_seed', 'seeded_rngs', 'wrap_pipeline'
]
