"""The Stanford Dogs data set (Khosla et al., FGVC workshop at CVPR 2011)."""
import os.path as osp
from typing import List

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

LAYOUT = """data_root/
    Images/<wnid>-<breed>/<wnid>_<n>.jpg   (images.tar)
    train_list.mat, test_list.mat          (lists.tar: file_list, labels 1..120)"""


@DATASETS.register_module()
class StanfordDogs(BaseDataset):
    """Stanford Dogs: 120 breeds, the official 12,000 / 8,580 train / test split.

    Read from the official archives unpacked into ``data_root``::

        data_root/
            Images/<wnid>-<breed>/<wnid>_<n>.jpg   (images.tar)
            train_list.mat, test_list.mat          (lists.tar)

    Each list (read with ``scipy.io.loadmat``) holds ``file_list``, the image paths
    relative to ``Images/`` (a cell column), and ``labels``, 1-based class indices;
    ``gt_label`` is ``labels - 1``. The class names are the breeds (the folder name
    after ``<wnid>-``) in label order.

    Args:
        data_root (str): the folder holding ``Images/`` and the lists.
        split (str): 'train' or 'test'. Defaults to 'train'.
        **kwargs: ``BaseDataset``'s other arguments (pipeline, ...).
    """

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        if split not in ('train', 'test'):
            raise ValueError(f"StanfordDogs.split: must be 'train' or 'test', got "
                             f'{split!r}')
        self.split = split
        for required in ('Images', f'{split}_list.mat'):
            if not osp.exists(osp.join(data_root, required)):
                raise FileNotFoundError(
                    f'StanfordDogs.data_root: {osp.abspath(data_root)!r} has no '
                    f'{required!r}; expected the official layout:\n{LAYOUT}')
        super().__init__(ann_file=f'{split}_list.mat', data_root=data_root,
                         data_prefix='Images', test_mode=split == 'test', **kwargs)

    def load_data_list(self) -> List[dict]:
        """Images and labels of the split's .mat list."""
        from scipy.io import loadmat

        lists = loadmat(self.ann_file)
        files = [str(np.asarray(entry).reshape(-1)[0])
                 for entry in lists['file_list'].reshape(-1)]
        labels = np.asarray(lists['labels']).reshape(-1).astype(int) - 1
        if len(files) != len(labels) or (labels < 0).any():
            raise ValueError(f'StanfordDogs: {self.ann_file} has {len(files)} files '
                             f'and {len(labels)} labels (1-based); expected one per '
                             'file')
        breeds = {}
        for name, label in zip(files, labels):
            breeds.setdefault(int(label), name.split('/')[0].split('-', 1)[-1])
        self._metainfo.setdefault('classes',
                                  tuple(breeds.get(k, str(k))
                                        for k in range(int(labels.max()) + 1)))
        return [dict(img_path=osp.join(self.img_prefix, name), gt_label=int(label))
                for name, label in zip(files, labels)]
