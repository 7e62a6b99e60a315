"""Data-side reliability parts of mmcds: the exact-resume sampler, per-sample
pipeline wrapping (seeding, naming bad files) and the up-front data scan."""
from .sample_pipeline import (SampleLoadError, SamplePipeline, SeededIndex,
                              describe_dataset, file_problem, leaf_datasets,
                              sample_seed, seeded_rngs, wrap_pipeline)
from .samplers import ExactResumeSampler
from .scan import (check_config_data, check_image, empty_class_folders,
                   scan_dataset)

__all__ = [
    'ExactResumeSampler', 'SampleLoadError', 'SamplePipeline', 'SeededIndex',
    'check_config_data', 'check_image', 'describe_dataset', 'empty_class_folders',
    'file_problem', 'leaf_datasets', 'sample_seed', 'scan_dataset', 'seeded_rngs',
    'wrap_pipeline'
]
