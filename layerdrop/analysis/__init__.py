"""Analyses of models' insides: layer and sublayer scores, representations, CKA, probes.

`from layerdrop.analysis import linear_cka` is the CKA of two (n, p) arrays (numpy or torch).
"""

from layerdrop.analysis.cka import linear_cka

__all__ = ["linear_cka"]
