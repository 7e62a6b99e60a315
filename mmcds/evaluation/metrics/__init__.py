from .expected_calibration_error import (ExpectedCalibrationError, calibration_bins,
                                         proper_scores, scale_temperature)

__all__ = [
    'ExpectedCalibrationError', 'calibration_bins', 'proper_scores', 'scale_temperature'
]
