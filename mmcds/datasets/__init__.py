"""Data: transforms, data set wrappers and samplers (registered into mmpretrain's and
mmengine's registries), per-sample pipeline wrapping (seeding, naming bad files) and
the up-front data scan."""
from .sample_pipeline import (SampleLoadError, SamplePipeline, SeededIndex,
                              describe_dataset, file_problem, leaf_datasets,
                              sample_seed, seeded_rngs, wrap_pipeline)
from .samplers import ExactResumeSampler, SemiSupervisedBatchSampler
from .scan import (check_config_data, check_image, empty_class_folders,
                   scan_dataset)
from .semi_supervised_dataset import SemiSupervisedDataset
from .stanford_dogs import StanfordDogs
from .transforms import *  # noqa: F401,F403

__all__ = [
    'ExactResumeSampler', 'SampleLoadError', 'SamplePipeline', 'SeededIndex',
    'SemiSupervisedBatchSampler', 'SemiSupervisedDataset', 'StanfordDogs',
    'check_config_data', 'check_image', 'describe_dataset', 'empty_class_folders',
    'file_problem', 'leaf_datasets', 'sample_seed', 'scan_dataset', 'seeded_rngs',
    'wrap_pipeline'
]
