from .clipped_cutout import ClippedCutout

__all__ = ['ClippedCutout']
