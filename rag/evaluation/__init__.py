"""Evaluating answer accuracy: datasets, metrics, the run itself, and its report."""
