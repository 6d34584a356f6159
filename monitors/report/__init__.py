"""Quarterly notice: one report model (model.py) and one writer per format."""
