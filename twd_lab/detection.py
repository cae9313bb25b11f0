"""Detection: audio of any length in, probabilities per output step out; triggers; a chime where it fires.

The lab's three functions keep their names:

* :func:`preprocess_audio` returns a new clip (44.1 kHz, mono, level-matched to -20 dBFS). The lab's
  version padded or trimmed the file to 10 s and *overwrote the user's file*; ours never writes anything,
  and keeps the whole length.
* :func:`detect_triggerword` gives the probability that "activate" has just been said at each output
  step, for audio of **any length** (the lab's model took exactly 10 s), optionally plotted.
* :func:`chime_on_activate` mixes the bundled chime in wherever the detector fires and writes a **new**
  file: never the input, never an existing file unless ``overwrite=True``.

:func:`triggers` turns probabilities into firings with :func:`twd_lab.metrics.find_triggers` (the one place
that rule lives: ``threshold``, ``patience`` consecutive steps above it, ``refractory`` steps before it may
fire again). A trigger's ``time_s`` is when the detector can fire, which is when the word has ended:
step ``j`` is decided at ``(320 j + 1320) / 44100`` s (see :func:`twd_lab.detectors.lab_network.step_times_s`).

Too short. Audio shorter than the model's receptive field, 1,320 samples (30 ms: one Conv1D kernel of 15
spectrogram frames), has no output step: :func:`detect_triggerword` returns an empty array and there are no
triggers. Audio with no samples at all, NaN or infinity is an error (``ValueError``). Digital silence is a
valid input (it is never level-matched into NaN).

TensorFlow is imported only when a model is needed; :mod:`twd_lab.detectors.lab_network` runs the network.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twd_lab.constants import (
    CONV_KERNEL,
    DETECT_LEAD_S,
    DETECT_TAIL_S,
    N_FREQ,
    NFFT,
    PATIENCE,
    REFRACTORY,
    SAMPLE_RATE,
    TARGET_DBFS,
    THRESHOLD,
    frames_for_samples,
    steps_for_frames,
)
from twd_lab.detectors.lab_network import RECEPTIVE_FIELD_SAMPLES, Trigger, step_times_s, triggers_at
from twd_lab.validation import sample_array

PathLike = str | os.PathLike

__all__ = [
    "RECEPTIVE_FIELD_SAMPLES",
    "ChimeResult",
    "Trigger",
    "check_new_file",
    "chime_at",
    "chime_on_activate",
    "detect_triggerword",
    "expected_steps",
    "frame_probabilities",
    "load_audio",
    "pad_edges",
    "padded_lead_s",
    "preprocess_audio",
    "step_times_s",
    "triggers",
]


# ------------------------------------------------------------------------------------------ audio in


def load_audio(path_or_samples, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Audio as float32 mono at 44.1 kHz, at its own level: from a WAV path or an array.

    ``path_or_samples``: a path to a WAV file (any common encoding, rate and channel count), or samples of
    shape ``(n,)`` or ``(n, channels)`` at ``sample_rate`` Hz, float in [-1, 1] or integer (scaled by the
    type's full range: int16 by 32,768, uint8 around 128). Channels are averaged. The input is never changed.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for a bad path, :class:`twd_lab.audio.AudioFileError`
    (a ``ValueError``) for a file that is not a readable WAV, and ``ValueError`` for an empty array, one
    with NaN or infinity, or a 2-D one with more channels than samples (``(channels, n)``: pass ``.T``).
    """
    from twd_lab.audio import read_wav, resample

    if isinstance(path_or_samples, (str, os.PathLike)):
        return read_wav(path_or_samples)
    if isinstance(path_or_samples, (bytes, bytearray)):
        raise TypeError("path_or_samples must be a path or an array of samples, got bytes")
    x = sample_array(path_or_samples, "path_or_samples")  # (n,) or (n, channels), finite, ints scaled
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    out = resample(x, sample_rate, SAMPLE_RATE)
    if isinstance(path_or_samples, np.ndarray) and np.shares_memory(out, path_or_samples):
        out = out.copy()  # never hand back (and so let a caller change) the caller's own array
    return out


def preprocess_audio(
    path_or_samples, *, sample_rate: int = SAMPLE_RATE, target_dbfs: float = TARGET_DBFS
) -> np.ndarray:
    """The lab's name: a new clip ready for the detector, float32 mono at 44.1 kHz, at ``target_dbfs``.

    Reads a WAV path or takes samples (see :func:`load_audio`) and sets the loudness to ``target_dbfs``
    (the level of every training example). Silence stays silent. The whole length is kept.

    Unlike the lab's version this never writes: the lab padded or trimmed the file to 10 s and wrote the
    result over the user's file.

    >>> clip = preprocess_audio("my_recording.wav")      # doctest: +SKIP
    """
    from twd_lab.audio import match_target_amplitude

    return match_target_amplitude(load_audio(path_or_samples, sample_rate=sample_rate), target_dbfs)


def expected_steps(n_samples: int) -> int:
    """Output steps the model gives for ``n_samples`` samples at 44.1 kHz (0 below 1,320 samples)."""
    return steps_for_frames(frames_for_samples(n_samples))


# ------------------------------------------------------------------------------------- the detector


def detect_triggerword(
    path_or_samples, model=None, *, plot: bool = False, sample_rate: int = SAMPLE_RATE, ax=None
) -> np.ndarray:
    """The lab's name: probabilities that "activate" has just ended, per output step, for any length.

    ``path_or_samples``: a WAV path or samples (see :func:`load_audio`); it is level-matched first
    (:func:`preprocess_audio`). ``model``: a Keras model (any input length; the lab network's layers let
    it run in fast compiled blocks), a path to a ``.keras`` file, or ``None`` for the shipped model
    (loaded once and cached), or any :class:`twd_lab.detectors.Detector` (its own steps then).

    Returns ``np.ndarray [shape=(n_steps,)]`` float32, ``n_steps = expected_steps(len(audio))``: 1,375
    for 10 s, 8,265 for 60 s, 0 for audio shorter than 1,320 samples. Step ``j`` is decided at
    ``step_times_s(j)`` seconds. With ``plot=True`` the spectrogram and the probabilities are drawn (into
    ``ax``, a pair of Axes, if given).

    >>> probs = detect_triggerword("my_recording.wav")     # doctest: +SKIP
    >>> triggers(probs)                                    # doctest: +SKIP
    [Trigger(time_s=2.4467, score=0.9381)]
    """
    audio = preprocess_audio(path_or_samples, sample_rate=sample_rate)
    probs = probabilities(audio, model)
    if plot:
        plot_detection(audio, probs, ax=ax)
    return probs


def probabilities(audio: np.ndarray, model=None) -> np.ndarray:
    """Probabilities ``(n_steps,)`` of ``model`` for float audio at 44.1 kHz, used as it is (no level match):
    the lab network's stream (:class:`twd_lab.detectors.lab.LabDetector`) fed in blocks, so memory does not
    grow with the length."""
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be 1-D float samples, got shape {audio.shape}")
    if audio.size < RECEPTIVE_FIELD_SAMPLES:
        return np.zeros(0, np.float32)
    from twd_lab.detectors.base import Detector
    from twd_lab.detectors.lab_network import runner_for
    from twd_lab.spectrogram import pcm16_frames

    if isinstance(model, Detector):  # any detector of twd_lab.detectors, in its own steps
        return model.hear(audio)[0]
    runner, keras_model = runner_for(model)
    if runner is None:  # another architecture: one call on the whole input
        return frame_probabilities(pcm16_frames(audio), keras_model)
    from twd_lab.detectors.lab import LabDetector

    return LabDetector(keras_model).hear(audio)[0]  # the lab network's stream, fed in blocks


def frame_probabilities(frames, model=None) -> np.ndarray:
    """Probabilities for spectrogram frames with the lab's values: ``(T, 101) -> (n_steps,)``, or a batch
    ``(n, T, 101) -> (n, n_steps)`` (e.g. a :class:`twd_lab.evaluation.TestSet`'s ``x``), clip by clip."""
    from twd_lab.detectors.lab_network import runner_for

    x = np.asarray(frames, np.float32)
    if x.ndim not in (2, 3) or x.shape[-1] != N_FREQ:
        raise ValueError(f"frames must have shape (T, {N_FREQ}) or (n, T, {N_FREQ}), got {x.shape}")
    if x.shape[-2] < CONV_KERNEL:  # shorter than one Conv1D kernel: no output step
        return np.zeros(x.shape[:-2] + (0,), np.float32)
    runner, keras_model = runner_for(model)
    one = runner.probabilities if runner is not None else (lambda f: _plain_call(keras_model, f))
    if x.ndim == 2:
        return one(x)
    return np.stack([one(clip) for clip in x]) if len(x) else np.zeros((0, 0), np.float32)


def _plain_call(model, frames: np.ndarray) -> np.ndarray:
    """Another architecture: one compiled call on the whole input (it must accept any length)."""
    fn = _compiled_call(model)
    out = np.asarray(fn(frames[None]))
    return out.reshape(-1).astype(np.float32)


_LAST_CALL: list = []  # [(model, compiled call)]: the last model of another architecture


def _compiled_call(model):
    if not _LAST_CALL or _LAST_CALL[0][0] is not model:
        import keras

        def fn(x):
            return model(x, training=False)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            fn = tf.function(fn, reduce_retracing=True)
        _LAST_CALL[:] = [(model, fn)]
    return _LAST_CALL[0][1]


def plot_detection(audio: np.ndarray, probs: np.ndarray, *, ax=None, threshold: float = THRESHOLD, y=None):
    """Spectrogram over probabilities (and labels ``y`` if given), on a shared time axis; returns the Axes."""
    from twd_lab.plotting import _finish, plot_labels, plot_probabilities, plot_spectrogram
    from twd_lab.spectrogram import pcm16_frames

    rows = 2 if y is None else 3
    created = ax is None
    if created:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 1.9 * rows + 0.6), layout="constrained")
        ax = fig.subplots(rows, 1, sharex=True)
    if np.asarray(audio).size >= NFFT:
        plot_spectrogram(pcm16_frames(np.asarray(audio, np.float32)).T, ax=ax[0])
    if y is not None:
        plot_labels(y, ax=ax[1])
    plot_probabilities(probs, ax=ax[-1], threshold=threshold)
    if created:
        _finish(ax[0], True)
    return ax


def triggers(
    probs, threshold: float = THRESHOLD, patience: int = PATIENCE, refractory: int = REFRACTORY
) -> list[Trigger]:
    """Where the detector fires: a list of ``Trigger(time_s, score)`` (seconds, probability at that step).

    ``probs`` as :func:`detect_triggerword` returns them (any shape with one non-unit axis, e.g. the lab's
    ``(1, Ty, 1)``). The rule is :func:`twd_lab.metrics.find_triggers`: fire at the ``patience``-th
    consecutive step above ``threshold``, then not again for ``refractory`` steps.

    >>> triggers([0.1, 0.9, 0.9, 0.2], patience=2)
    [Trigger(time_s=0.0372, score=0.9)]
    """
    from twd_lab.metrics import find_triggers

    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size and not np.all(np.isfinite(p)):
        raise ValueError("probs must be finite numbers")
    steps = find_triggers(p, threshold, patience, refractory)
    return triggers_at(steps, p[steps])


# ------------------------------------------------------------------------------------------ the chime


@lru_cache(maxsize=4)
def _read_chime(path: str, mtime_ns: int) -> np.ndarray:
    from twd_lab.audio import read_wav

    return read_wav(path)


def load_chime(chime=None) -> np.ndarray:
    """The chime as float32 mono 44.1 kHz: the bundled one (``None``), a WAV path, or samples as they are."""
    if chime is None:
        from twd_lab.assets_index import chime_path

        chime = chime_path()
    if isinstance(chime, (str, os.PathLike)):
        p = Path(chime)
        if not p.is_file():
            raise FileNotFoundError(f"chime: no such file: {p}")
        x = _read_chime(str(p.resolve()), p.stat().st_mtime_ns)
        x.flags.writeable = False
        return x
    return load_audio(chime)


def _times_s(fires) -> np.ndarray:
    """Firing times in seconds from Trigger records, seconds (floats) or output steps (integers)."""
    if isinstance(fires, np.ndarray) and fires.dtype.kind in "iu":
        return step_times_s(fires)
    items = list(fires)
    if all(isinstance(f, (int, np.integer)) and not isinstance(f, bool) for f in items) and items:
        return step_times_s(np.asarray(items, np.int64))
    times = [f.time_s if isinstance(f, Trigger) else float(f) for f in items]
    return np.asarray(times, np.float64)


def chime_at(audio, fires, chime=None) -> np.ndarray:
    """A new copy of ``audio`` (float, 44.1 kHz) with the chime added at each firing; same length.

    ``fires``: :class:`Trigger` records, times in seconds (floats), or output steps (integers, placed at
    :func:`step_times_s`). The mix is clipped to [-1, 1]; a chime that runs past the end is cut.
    """
    out = np.array(audio, dtype=np.float32, copy=True).reshape(-1)
    bell = load_chime(chime)
    for t in _times_s(fires):
        start = round(float(t) * SAMPLE_RATE)
        if 0 <= start < out.size:
            n = min(bell.size, out.size - start)
            out[start : start + n] += bell[:n]
    return np.clip(out, -1.0, 1.0, out=out)


class ChimeResult(NamedTuple):
    """What :func:`chime_on_activate` made: the chimed audio, where it fired, and the file written (or None)."""

    audio: np.ndarray
    triggers: list[Trigger]
    path: Path | None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_new_file(path: PathLike, *, source: PathLike | None = None, overwrite: bool = False) -> Path:
    """``path`` as a Path if a new file may be written there; else raise saying why.

    Never the ``source`` file (even with ``overwrite``), never a folder, and an existing file only with
    ``overwrite=True``.
    """
    target = Path(path)
    if source is not None and (
        _same_file(target, Path(source)) or target.resolve() == Path(source).resolve()
    ):
        raise ValueError(f"{target} is the input file; the input is never overwritten")
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; give a .wav file name")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    return target


def chime_on_activate(
    path_or_samples,
    predictions=None,
    out_path: PathLike | None = None,
    *,
    threshold: float = THRESHOLD,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    chime=None,
    model=None,
    overwrite: bool = False,
) -> ChimeResult:
    """The lab's name: the audio with a chime wherever the detector fires, written to a **new** file.

    ``path_or_samples``: a WAV path or samples (see :func:`load_audio`); the chime is mixed into the audio at
    its own level. ``predictions``: probabilities from :func:`detect_triggerword` for this audio (``None``:
    computed with ``model``). ``out_path``: the WAV to write (16-bit, 44.1 kHz mono); ``None`` writes nothing.
    It must not be the input file, and an existing file is replaced only with ``overwrite=True``.
    ``threshold``, ``patience``, ``refractory``: the firing rule (see :func:`triggers`). ``chime``: a WAV
    path or samples (``None``: the bundled chime).

    Returns a :class:`ChimeResult` ``(audio, triggers, path)``.

    >>> result = chime_on_activate("my_recording.wav", out_path="chimed.wav")   # doctest: +SKIP
    """
    if isinstance(out_path, (int, float)) and not isinstance(out_path, bool):
        raise TypeError(
            "chime_on_activate's third argument is out_path; pass the threshold by name: threshold="
            f"{out_path!r}"
        )
    target = None
    if out_path is not None:
        source = path_or_samples if isinstance(path_or_samples, (str, os.PathLike)) else None
        target = check_new_file(out_path, source=source, overwrite=overwrite)
    audio = load_audio(path_or_samples)
    if predictions is None:
        probs = probabilities(preprocess_audio(audio), model)
    else:
        probs = np.asarray(predictions, dtype=np.float32).reshape(-1)
        if probs.size != expected_steps(audio.size):
            raise ValueError(
                f"predictions have {probs.size} steps but {audio.size / SAMPLE_RATE:.3f} s of audio gives "
                f"{expected_steps(audio.size)}; compute them with detect_triggerword on the same audio"
            )
    fired = triggers(probs, threshold, patience, refractory)
    mixed = chime_at(audio, fired, chime)
    if target is not None:
        from twd_lab.audio import write_wav

        write_wav(target, mixed, SAMPLE_RATE, overwrite=overwrite)
    return ChimeResult(mixed, fired, target)


# ------------------------------------------------------------------------------------- the edges


def pad_edges(audio: np.ndarray, lead_s: float = DETECT_LEAD_S, tail_s: float = DETECT_TAIL_S) -> np.ndarray:
    """A new copy of ``audio`` (44.1 kHz) with ``lead_s`` seconds of silence before it and ``tail_s`` after.

    What :func:`detect_file` listens to, so that a word at either edge of a file can be heard: a detector
    fires a moment *after* a word ends, and a recording often stops right there (see
    ``twd_lab.constants.DETECT_TAIL_S``). Times measured on the padded audio are
    :func:`padded_lead_s` later.
    """
    from twd_lab.detectors.base import check_seconds

    check_seconds("lead_s", lead_s)
    check_seconds("tail_s", tail_s)
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    lead, tail = round(lead_s * SAMPLE_RATE), round(tail_s * SAMPLE_RATE)
    out = np.zeros(lead + x.size + tail, np.float32)
    out[lead : lead + x.size] = x
    return out


def padded_lead_s(lead_s: float = DETECT_LEAD_S) -> float:
    """The silence :func:`pad_edges` puts before the audio, in seconds (whole samples at 44.1 kHz): what
    to subtract from a time measured on the padded audio."""
    return round(lead_s * SAMPLE_RATE) / SAMPLE_RATE
