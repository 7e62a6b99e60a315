from .expected_calibration_error import ExpectedCalibrationError, calibration_bins

__all__ = ['ExpectedCalibrationError', 'calibration_bins']
