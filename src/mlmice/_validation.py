"""Validation helpers used at public entry points (scikit-learn style).

Each helper raises an error that names the argument and the bad value, so a
user never sees a traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_random_state(seed, *, chain: int | None = None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``seed``.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` draws fresh OS entropy; an int or ``SeedSequence`` seeds a
        new PCG64 generator; a ``Generator`` is returned as is.
    chain : int, optional
        When given, the generator is built from
        ``SeedSequence(seed, spawn_key=(chain,))`` so that chain ``i`` is the
        same stream whatever the number of chains (see DESIGN.md,
        "Randomness").
    """
    if isinstance(seed, np.random.Generator):
        if chain is not None:
            raise TypeError("chain= cannot be combined with a Generator; pass an int seed")
        return seed
    if isinstance(seed, np.random.SeedSequence):
        entropy = seed.entropy
    elif seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        entropy = None if seed is None else int(seed)
        if entropy is not None and entropy < 0:
            raise ValueError(f"seed == {seed}, must be >= 0")
    else:
        raise TypeError(f"seed must be None, a non-negative int, a SeedSequence or a Generator; "
                        f"got {type(seed).__name__}")
    if chain is None:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(entropy)
    else:
        ss = np.random.SeedSequence(entropy, spawn_key=(int(chain),))
    return np.random.Generator(np.random.PCG64(ss))


def check_scalar(value, name: str, *, kind=numbers.Real, min_val=None, max_val=None,
                 include_min: bool = True, include_max: bool = True):
    """Check a scalar argument's type and range; return it unchanged.

    Errors read like ``"m == 0, must be >= 1"``.
    """
    if isinstance(value, bool) or not isinstance(value, kind):
        kinds = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TypeError(f"{name} must be {kinds}, got {type(value).__name__} ({value!r})")
    if min_val is not None:
        bad = value < min_val if include_min else value <= min_val
        if bad:
            op = ">=" if include_min else ">"
            raise ValueError(f"{name} == {value}, must be {op} {min_val}")
    if max_val is not None:
        bad = value > max_val if include_max else value >= max_val
        if bad:
            op = "<=" if include_max else "<"
            raise ValueError(f"{name} == {value}, must be {op} {max_val}")
    return value


def check_bool(value, name: str) -> bool:
    """A flag must be True or False: ``"no"`` is truthy, and would silently mean yes."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
