"""Evaluation: calibration metrics and reliability diagrams.

Calibration metrics (registered into mmpretrain's METRICS) and the
reliability diagram."""
from .metrics import ExpectedCalibrationError, calibration_bins
from .reliability import plot_reliability_diagram

__all__ = ['ExpectedCalibrationError', 'calibration_bins', 'plot_reliability_diagram']
