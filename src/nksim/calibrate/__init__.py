"""Calibration targets and their status."""
