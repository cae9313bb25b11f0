"""One helper that turns a seed, ``None`` or a Generator into a ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np

RngLike = None | int | np.random.Generator | np.random.SeedSequence


def as_generator(rng: RngLike = None, *, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    ``None`` gives fresh OS entropy, an int or SeedSequence seeds a new generator, and a Generator is
    returned as it is (so calls that share it advance one stream).

    >>> as_generator(0).integers(10) == as_generator(0).integers(10)
    True
    """
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and int(rng) < 0:
            raise ValueError(f"{name} must be a non-negative seed, got {rng}")
        if isinstance(rng, bool):
            raise TypeError(f"{name} must be a seed (int), None or numpy.random.Generator, got bool")
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"{name} must be a seed (int), None or numpy.random.Generator, got {type(rng).__name__}")
