"""Checks at the door, scikit-learn style: every error names the argument, what was expected and what came.

One rule for audio arrays everywhere (``graph_spectrogram``, ``insert_audio_clip``,
``create_training_example``, ``match_target_amplitude``, ``preprocess_audio``, ``detect_triggerword``, ...):
NaN or infinity is refused (``ValueError``), never passed through or read as silence. Multi-channel arrays
are ``(n_samples, n_channels)``; a 2-D array with more channels than samples (or more than
``MAX_CHANNELS``) is almost surely ``(channels, n)`` and is refused rather than guessed.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np

#: More channels than this in an ``(n, channels)`` array is taken for a transposed ``(channels, n)`` one.
MAX_CHANNELS = 32

__all__ = [
    "MAX_CHANNELS",
    "check_channels_last",
    "check_finite",
    "describe",
    "finite_number",
    "missing_reason",
    "sample_array",
    "whole_number",
]


def describe(value) -> str:
    """A short description of what came, for error messages: ``None``, ``str 'bg.wav'``, ``float64 array
    of shape (2, 44100)``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    if isinstance(value, (tuple, list)) and len(value) <= 4:
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, (str, bytes, numbers.Number)):
        text = repr(value)
        return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
    return type(value).__name__


def check_finite(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` itself if every value is finite; else ``ValueError`` naming ``name`` and how many are not."""
    x = np.asarray(x)
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        nan = int(np.count_nonzero(np.isnan(x)))
        inf = int(np.count_nonzero(np.isinf(x)))
        raise ValueError(
            f"{name} must hold finite numbers, got {nan:,} NaN and {inf:,} infinite value(s) among {x.size:,}"
        )
    return x


def check_channels_last(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` itself if it is ``(n,)`` or an unambiguous ``(n, channels)``; else ``ValueError`` saying why."""
    if x.ndim == 2 and (x.shape[1] > x.shape[0] or x.shape[1] > MAX_CHANNELS):
        raise ValueError(
            f"{name} must have shape (n_samples,) or (n_samples, n_channels), got shape {x.shape}: "
            f"that would be {x.shape[0]:,} sample(s) of {x.shape[1]:,} channels; if it is "
            f"(channels, samples), pass {name}.T"
        )
    return x


def sample_array(value, name: str, *, mono: bool = False, scale_int: bool = True) -> np.ndarray:
    """Audio samples at the door, as float32: numeric, not empty, finite, ``(n,)`` (or ``(n, channels)``
    unless ``mono``). Integer samples are scaled by their type's full range (int16 by 32,768, uint8 around
    128) when ``scale_int``. The caller's array is never changed (a float32 input may come back as is)."""
    if value is None or isinstance(value, (str, bytes, bytearray, numbers.Number)):
        raise TypeError(f"{name} must be an array of audio samples, got {describe(value)}")
    x = np.asarray(value)
    if x.dtype.kind not in "iuf":  # an array of the wrong kind: a bad value (as scikit-learn), not a type
        raise ValueError(f"{name} must be a numeric array of audio samples, got {describe(x)}")
    if x.ndim not in ((1,) if mono else (1, 2)):
        expected = "(n_samples,) (mono)" if mono else "(n_samples,) or (n_samples, n_channels)"
        hint = f"; mix the channels first, e.g. {name}.mean(axis=1)" if mono and x.ndim == 2 else ""
        raise ValueError(f"{name} must have shape {expected}, got shape {x.shape}{hint}")
    if x.size == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty array of shape {x.shape}")
    check_channels_last(x, name)
    if x.dtype.kind in "iu":
        if not scale_int:
            return x.astype(np.float32)
        info = np.iinfo(x.dtype)
        half = (int(info.max) + 1) / 2 if info.min == 0 else 0.0  # unsigned (8-bit WAV): centred on 128
        scale = half if info.min == 0 else float(-int(info.min))
        return ((x.astype(np.float64) - half) / scale).astype(np.float32)
    return check_finite(x, name).astype(np.float32, copy=False)


def finite_number(value, name: str, *, unit: str = "", minimum: float | None = None) -> float:
    """``value`` as a float if it is a finite real number (and ``>= minimum``); else an error naming it."""
    what = f"a finite number{' of ' + unit if unit else ''}" + (
        f" >= {minimum:g}" if minimum is not None else ""
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    number = float(value)
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number


def whole_number(value, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an int if it is a whole number (and ``>= minimum``); else an error naming it."""
    what = "a whole number" + (f" >= {minimum}" if minimum is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {describe(value)}")
    if not math.isfinite(float(value)) or not float(value).is_integer():
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def missing_reason(path: str | os.PathLike) -> str:
    """Why a ``path`` that does not exist is missing, for error messages: a link to nothing, a parent that
    is a file, a folder that does not exist, or plainly no such file."""
    path = Path(path)
    if path.is_symlink():
        return f"it is a link to {os.readlink(path)}, which does not exist"
    missing = None
    for parent in path.parents:
        if parent.is_symlink() and not parent.exists():
            return f"{parent} is a link to {os.readlink(parent)}, which does not exist"
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            break
        missing = parent
    return "no such file" if missing is None else f"the folder {missing} does not exist"
