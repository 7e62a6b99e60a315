"""Data: transforms, data set wrappers and samplers, registered into mmpretrain's
registries."""
from .samplers import *  # noqa: F401,F403
from .semi_supervised_dataset import SemiSupervisedDataset
from .stanford_dogs import StanfordDogs
from .transforms import *  # noqa: F401,F403

__all__ = ['SemiSupervisedDataset', 'StanfordDogs']
