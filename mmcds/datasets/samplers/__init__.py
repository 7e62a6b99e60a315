from .exact_resume_sampler import ExactResumeSampler

__all__ = ['ExactResumeSampler']
