"""Data: transforms, data set wrappers and samplers, registered into mmpretrain's
registries."""
from .transforms import *  # noqa: F401,F403
