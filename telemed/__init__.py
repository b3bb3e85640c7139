"""Telemed: remote consultations between district facilities and expert councils."""

__version__ = "0.1.0"
