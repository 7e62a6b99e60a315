"""Evaluation: calibration metrics, temperature scaling and reliability diagrams.

Calibration metrics (registered into mmpretrain's METRICS), temperature scaling
and the reliability diagram."""
from .metrics import (ExpectedCalibrationError, calibration_bins, proper_scores,
                      scale_temperature)
from .reliability import plot_reliability_diagram
from .temperature_scaling import fit_temperature

__all__ = [
    'ExpectedCalibrationError', 'calibration_bins', 'fit_temperature',
    'plot_reliability_diagram', 'proper_scores', 'scale_temperature'
]
