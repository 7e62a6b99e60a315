from .exact_resume_sampler import ExactResumeSampler
from .semi_supervised_batch_sampler import SemiSupervisedBatchSampler

__all__ = ['ExactResumeSampler', 'SemiSupervisedBatchSampler']
