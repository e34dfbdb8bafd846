"""Evaluation of detectors and recognizers on the shared evaluation sets."""
