r"""Amputation scores: which units lose their values, and with what probability.

The core of multivariate amputation (Schouten, Lugtig and Vink 2018, JSCS 88(15),
sections 2.3-2.4): each candidate unit (a row, or a cluster for level-2 variables) of
a missingness pattern gets a standardised weighted sum score of its variables; the
score is shaped by the pattern's type (RIGHT: high scores lose values, LEFT: low, MID:
middle, TAIL: both ends) and turned into a probability :math:`\operatorname{expit}(\eta
+ b)`, with :math:`b` solved (Brent's method) so that the candidates' mean probability
is exactly ``prop``. Used by :func:`mlmice.amputation.ampute`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

__all__ = ["ampute_units", "probabilities", "shape_scores", "sum_scores"]


def ampute_units(X, cand, pat, w, mech, types, prop, offsets, rng, *, std=True):
    """Amputation indicator for units (rows or clusters) given their candidacy."""
    n = X.shape[0]
    amputed = np.zeros(n, dtype=bool)
    scores = np.full(n, np.nan)
    probs = np.zeros(n)
    for k in range(pat.shape[0]):
        idx = np.flatnonzero(cand == k)
        if idx.size == 0:
            continue
        lin = np.zeros(idx.size)
        if mech != "MCAR":
            s = sum_scores(X[idx], w[k], std=std)
            scores[idx] = s
            lin = shape_scores(s, types[k])
        p = probabilities(lin + offsets[idx], prop)
        probs[idx] = p
        amputed[idx] = rng.random(idx.size) < p
    return amputed, scores, probs


def sum_scores(Xk, wk, *, std):
    """Standardised weighted sum scores of one pattern's candidates."""
    Z = Xk.astype(float)
    if std and Z.shape[0] > 1:
        sd = Z.std(axis=0, ddof=1)
        ok = sd > 0
        Z = np.where(ok, (Z - Z.mean(axis=0)) / np.where(ok, sd, 1.0), 0.0)
    s = Z @ wk
    if s.size > 1:
        sd = s.std(ddof=1)
        if sd > 1e-12 * max(1.0, np.abs(s).max()):
            return (s - s.mean()) / sd
    return np.zeros_like(s)


def shape_scores(s, typ):
    c = s - s.mean()
    if typ == "RIGHT":
        return c
    if typ == "LEFT":
        return -c
    if typ == "MID":
        return 0.75 - np.abs(c)
    return np.abs(c) - 0.75  # TAIL


def probabilities(eta, prop):
    """expit(eta + b) with b solved so that the mean probability is prop."""
    if prop <= 0:
        return np.zeros_like(eta)
    if prop >= 1:
        return np.ones_like(eta)

    def gap(b):
        return expit(eta + b).mean() - prop

    lo, hi = -20.0, 20.0
    while gap(lo) > 0:
        lo *= 2
    while gap(hi) < 0:
        hi *= 2
    b = brentq(gap, lo, hi, xtol=1e-12)
    return expit(eta + b)
