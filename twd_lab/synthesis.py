"""Synthesis: overlay trigger words and other words on a background, and label where the trigger ends.

The lab's functions keep their names and meanings; each random one takes ``rng=`` (a seed or a
``numpy.random.Generator``) instead of using NumPy's global state, so the same seed gives the same
example bit for bit. They accept pydub ``AudioSegment`` (the lab's code runs unchanged) and float32
arrays at 44.1 kHz (the fast path; AudioSegments are converted as they are drawn).

What differs from the lab, on purpose:

- :func:`insert_audio_clip` cannot spin forever. After ``max_tries`` random draws it picks uniformly
  among the start times that are still free (the distribution rejection sampling converges to), and only
  when no start is free returns the background unchanged and ``(10000, 10000)``.
- Every synthesized clip is exactly ``CLIP_SAMPLES`` long: a background is trimmed, or looped if short
  (see :func:`twd_lab.audio.fit_to_clip`), so the spectrogram always has ``TX`` frames.
- Silence is never normalised into NaN: a silent mix stays silent.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twd_lab.audio import (
    _is_segment,
    dbfs,
    fit_to_clip,
    to_samples,
    to_segment,
    write_wav,
)
from twd_lab.constants import (
    BACKGROUND_GAIN_DB,
    CLIP_MS,
    CLIP_SAMPLES,
    LABEL_RUN,
    MAX_ACTIVATES,
    MAX_NEGATIVES,
    SAMPLE_RATE,
    TARGET_DBFS,
    TY,
)
from twd_lab.rng import RngLike, as_generator
from twd_lab.validation import check_finite, describe, finite_number, sample_array, whole_number

Segment = tuple[int, int]
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
NO_ROOM: Segment = (CLIP_MS, CLIP_MS)

__all__ = [
    "NO_ROOM",
    "SynthesizedExample",
    "create_training_example",
    "get_random_time_segment",
    "insert_audio_clip",
    "insert_ones",
    "is_overlapping",
    "synthesize_example",
    "training_x",
]


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer():
        raise TypeError(f"{name} must be a whole number of milliseconds, got {value!r}")
    return int(value)


def _duration_ms(clip) -> int:
    """Length in ms: ``len()`` of an AudioSegment (as pydub rounds it), or samples at 44.1 kHz."""
    if _is_segment(clip):
        return len(clip)
    return round(np.asarray(clip).shape[0] * 1000 / SAMPLE_RATE)


def _span_ms(background) -> int:
    """The ms of ``background`` a clip may be placed in: whole ms that lie inside it, at most 10 s."""
    if _is_segment(background):
        return min(len(background), CLIP_MS)
    return min(np.asarray(background).shape[0] * 1000 // SAMPLE_RATE, CLIP_MS)


def _audio_arg(value, name: str):
    """An AudioSegment as it is, or mono samples as float32 (checked: numeric, 1-D, finite; ints scaled)."""
    if _is_segment(value):
        return value
    if value is None or isinstance(value, (str, bytes, bytearray)):
        raise TypeError(
            f"{name} must be a pydub AudioSegment or a float array of samples at 44.1 kHz, got "
            f"{describe(value)}"
            + (" (read the file first, e.g. twd_lab.audio.read_wav)" if isinstance(value, str) else "")
        )
    return sample_array(value, name, mono=True)


def _segment(value, name: str) -> Segment:
    """``(start_ms, end_ms)`` with whole numbers ``0 <= start <= end``, or an error naming ``name``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a (start_ms, end_ms) pair, got {describe(value)}")
    start, end = (whole_number(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(value))
    if end < start:
        raise ValueError(f"{name} must have start_ms <= end_ms, got {tuple(value)}")
    return start, end


def _segments(value, name: str) -> list[Segment]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of (start_ms, end_ms) pairs, got {describe(value)}")
    return [_segment(v, f"{name}[{i}]") for i, v in enumerate(value)]


def get_random_time_segment(segment_ms: int, *, rng: RngLike = None) -> Segment:
    """A random ``(start_ms, end_ms)`` for a clip of ``segment_ms`` inside a 10 s clip.

    ``start_ms`` is uniform in ``[0, 10000 - segment_ms)`` and ``end_ms = start_ms + segment_ms - 1``
    (both ends inclusive), as in the lab. ``segment_ms`` must be in ``1 … 9999``.
    """
    segment_ms = _whole(segment_ms, "segment_ms")
    if not 0 < segment_ms < CLIP_MS:
        raise ValueError(f"segment_ms must be between 1 and {CLIP_MS - 1} ms, got {segment_ms}")
    return _random_segment(segment_ms, CLIP_MS, as_generator(rng))


def _random_segment(segment_ms: int, span_ms: int, rng: np.random.Generator) -> Segment:
    """A uniform ``(start_ms, end_ms)`` of ``segment_ms`` inside ``[0, span_ms)`` (the lab's draw at 10 s)."""
    start = int(rng.integers(0, span_ms - segment_ms))
    return start, start + segment_ms - 1


def is_overlapping(segment_time: Segment, previous_segments: Sequence[Segment]) -> bool:
    """True if ``segment_time`` overlaps any of ``previous_segments`` (touching ends count as overlap)."""
    return _overlaps(
        _segment(segment_time, "segment_time"), _segments(previous_segments, "previous_segments")
    )


def _overlaps(segment_time: Segment, previous_segments: Sequence[Segment]) -> bool:
    start, end = segment_time
    return any(start <= prev_end and end >= prev_start for prev_start, prev_end in previous_segments)


def _free_start(
    segment_ms: int, span_ms: int, previous_segments: Sequence[Segment], rng: np.random.Generator
):
    """A start time in ``[0, span_ms - segment_ms)`` drawn uniformly among those that overlap nothing, or
    None if there is none."""
    free = np.ones(span_ms - segment_ms, dtype=bool)
    for prev_start, prev_end in previous_segments:
        free[max(0, prev_start - segment_ms + 1) : max(0, prev_end + 1)] = False
    starts = np.flatnonzero(free)
    return None if starts.size == 0 else int(starts[rng.integers(starts.size)])


def _add_at(background: np.ndarray, clip: np.ndarray, start_ms: int) -> np.ndarray:
    """Add ``clip`` to ``background`` in place from ``start_ms`` (cut at the end, as pydub's overlay)."""
    start = int(start_ms * SAMPLE_RATE // 1000)
    part = clip[: max(0, background.shape[0] - start)]
    background[start : start + part.shape[0]] += part
    return background


def _place(audio_clip, background, previous_segments: list[Segment], rng, max_tries: int) -> Segment:
    """Choose where ``audio_clip`` goes inside ``background`` (appending it to ``previous_segments``), or
    return ``NO_ROOM``. A segment always lies inside the background (and its first 10 s)."""
    segment_ms = _duration_ms(audio_clip)
    span_ms = _span_ms(background)
    if segment_ms == 0:
        raise ValueError(f"audio_clip is shorter than 1 ms ({np.asarray(audio_clip).shape[0]} samples)")
    if segment_ms >= span_ms:
        raise ValueError(
            f"audio_clip is {segment_ms} ms long; it must be shorter than the background "
            f"({span_ms} ms, at most {CLIP_MS} ms are used)"
        )
    segment_time = _random_segment(segment_ms, span_ms, rng)
    tries = 0
    while _overlaps(segment_time, previous_segments) and tries < max_tries:
        segment_time = _random_segment(segment_ms, span_ms, rng)
        tries += 1
    if _overlaps(segment_time, previous_segments):
        start = _free_start(segment_ms, span_ms, previous_segments, rng)
        if start is None:
            return NO_ROOM
        segment_time = (start, start + segment_ms - 1)
    previous_segments.append(segment_time)
    return segment_time


def insert_audio_clip(
    background, audio_clip, previous_segments: list[Segment], *, rng: RngLike = None, max_tries: int = 10
):
    """Overlay ``audio_clip`` on ``background`` at a random time that overlaps no previous segment.

    Returns ``(new_background, segment_time)``. As in the lab, ``segment_time`` is appended to
    ``previous_segments`` (the list is changed in place) and ``background`` itself is not changed.
    The lab retried forever; here after ``max_tries`` random draws the start is drawn uniformly among the
    free ones, and if none is free the background comes back unchanged with ``(10000, 10000)``.

    ``background`` and ``audio_clip`` are both pydub ``AudioSegment`` or both float arrays at 44.1 kHz
    (an array clip on an AudioSegment background is converted; integer arrays are scaled by their type's
    full range, int16 by 32,768). The segment always lies inside the background, also one shorter than
    10 s; a clip as long as the background raises ``ValueError``. NaN or infinity is refused.
    """
    background = _audio_arg(background, "background")
    audio_clip = _audio_arg(audio_clip, "audio_clip")
    if not isinstance(previous_segments, list):
        raise TypeError(
            "previous_segments must be a list of (start_ms, end_ms) pairs (the new segment is appended to "
            f"it, as in the lab), got {describe(previous_segments)}"
        )
    _segments(previous_segments, "previous_segments")
    max_tries = whole_number(max_tries, "max_tries", minimum=0)
    segment_time = _place(audio_clip, background, previous_segments, as_generator(rng), max_tries)
    if segment_time == NO_ROOM:
        return background, NO_ROOM
    if _is_segment(background):
        clip = audio_clip if _is_segment(audio_clip) else to_segment(audio_clip)
        return background.overlay(clip, position=segment_time[0]), segment_time
    new = np.array(background, dtype=np.float32)  # a copy: the caller's background stays as it was
    return _add_at(new, _as_array(audio_clip), segment_time[0]), segment_time


def insert_ones(y: np.ndarray, segment_end_ms: int) -> np.ndarray:
    """Set ``y[0, e+1 … e+50]`` to 1 where ``e = int(segment_end_ms * Ty / 10000)``, clipped at ``Ty - 1``.

    ``y`` has shape ``(1, Ty)``; as in the lab it is changed in place and returned.
    ``segment_end_ms = 10000`` (the "no room" answer of :func:`insert_audio_clip`) sets nothing.
    """
    if not isinstance(y, np.ndarray) or y.ndim != 2 or y.shape[0] != 1:
        shape = getattr(y, "shape", type(y).__name__)
        raise ValueError(f"y must be a NumPy array of shape (1, Ty), got {shape}")
    segment_end_ms = finite_number(segment_end_ms, "segment_end_ms", unit="ms", minimum=0)
    ty = y.shape[1]
    end = int(segment_end_ms * ty / 10000.0)
    y[0, end + 1 : min(end + 1 + LABEL_RUN, ty)] = 1
    return y


@dataclass
class SynthesizedExample:
    """One synthesized 10 s clip and its labels.

    ``audio`` float32 ``(CLIP_SAMPLES,)`` normalised to ``TARGET_DBFS``; ``y`` float32 ``(1, Ty)``;
    ``activate_segments`` / ``negative_segments`` the ``(start_ms, end_ms)`` of each clip inserted
    (clips that found no room are left out).
    """

    audio: np.ndarray
    y: np.ndarray
    activate_segments: list[Segment] = field(default_factory=list)
    negative_segments: list[Segment] = field(default_factory=list)


def _as_array(clip) -> np.ndarray:
    return to_samples(clip) if _is_segment(clip) else np.asarray(clip, dtype=np.float32)


def _check_pool(clips, name: str):
    if clips is None or isinstance(clips, (str, bytes)) or not hasattr(clips, "__len__"):
        raise TypeError(
            f"{name} must be a list of clips (AudioSegments or float arrays), got {describe(clips)}"
        )
    if len(clips) == 0:
        raise ValueError(f"{name} must hold at least one clip, got none")
    return clips


def _drawn(pool, i: int, name: str) -> np.ndarray:
    """Clip ``i`` of a pool as checked float32 mono samples (named ``name[i]`` in errors)."""
    clip = _audio_arg(pool[i], f"{name}[{i}]")
    return to_samples(clip) if _is_segment(clip) else clip


def partial_words(
    words,
    n: int,
    *,
    keep: tuple[float, float] = (0.35, 0.75),
    fade_ms: float = 10.0,
    rng: RngLike = None,
) -> list[np.ndarray]:
    """``n`` new clips, each the start of a random clip of ``words`` (arrays at 44.1 kHz or AudioSegments):
    its first ``keep[0]``-``keep[1]`` of the samples (drawn uniformly), faded out over ``fade_ms`` ms.

    "activ-" from "activate": used as *negatives* they teach a detector not to fire before the word is
    over (openWakeWord and Mycroft Precise train on partial wake words for the same reason). Words
    should be trimmed to the speech, as the bundled ones are, so the fraction is a fraction of the word.
    """
    rng = as_generator(rng)
    words = _check_pool(words, "words")
    lo, hi = (float(k) for k in keep)
    if not 0 < lo <= hi < 1:
        raise ValueError(f"keep must be (low, high) fractions with 0 < low <= high < 1, got {keep}")
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    fade = max(1, round(fade_ms * SAMPLE_RATE / 1000.0))
    out = []
    for i in rng.integers(len(words), size=int(n)):
        word = _as_array(words[i])
        cut = word[: max(1, round(word.size * rng.uniform(lo, hi)))].copy()
        k = min(fade, cut.size)
        cut[-k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
        out.append(cut)
    return out


def synthesize_example(
    background,
    activates,
    negatives,
    *,
    rng: RngLike = None,
    n_activates: int | None = None,
    n_negatives: int | None = None,
    background_gain_db: float = BACKGROUND_GAIN_DB,
    augment: Augment | None = None,
    Ty: int = TY,
    clipping: bool = True,
    _audio_out: np.ndarray | None = None,
) -> SynthesizedExample:
    """Synthesize one example as the lab's ``create_training_example`` does, without the spectrogram.

    The background (trimmed or looped to exactly 10 s) is lowered by ``background_gain_db``; ``n_activates``
    (default: uniform 0-4) random activates and ``n_negatives`` (default 0-2) random negatives are overlaid
    without overlap, each passed first through ``augment(clip, rng)`` if given; a label run follows the end
    of each activate; the mix is normalised to ``TARGET_DBFS`` and clipped to [-1, 1] (as the lab's
    training data). ``clipping=False`` lowers the whole mix instead wherever its peak would pass -1 dBFS, for
    audio a person will listen to: no sample is then clipped, and the level may be below ``TARGET_DBFS``.
    """
    rng = as_generator(rng)
    background_gain_db = finite_number(background_gain_db, "background_gain_db", unit="dB")
    Ty = whole_number(Ty, "Ty", minimum=1)
    background = _audio_arg(background, "background")
    # _audio_out: a caller's reusable (CLIP_SAMPLES,) float32 buffer for the mix. Fresh multi-MB arrays
    # cost ~1,000 page faults per example (about as long as the whole synthesis), so hot loops reuse one.
    gain = np.float32(10.0 ** (background_gain_db / 20.0))
    bg = np.multiply(fit_to_clip(_as_array(background)), gain, out=_audio_out)
    # only the clips drawn are converted (a pool of AudioSegments may be long)
    acts, negs = _check_pool(activates, "activates"), _check_pool(negatives, "negatives")
    if n_activates is None:
        n_activates = int(rng.integers(0, MAX_ACTIVATES + 1))
    if n_negatives is None:
        n_negatives = int(rng.integers(0, MAX_NEGATIVES + 1))
    y = np.zeros((1, Ty), dtype=np.float32)
    previous: list[Segment] = []
    placed: dict[str, list[Segment]] = {"activates": [], "negatives": []}
    for name, pool, count in (("activates", acts, n_activates), ("negatives", negs, n_negatives)):
        for i in rng.integers(len(pool), size=count):
            clip = _drawn(pool, int(i), name)
            if augment is not None:
                clip = np.asarray(augment(clip, rng), dtype=np.float32)
                check_finite(clip, f"augment's output for {name}[{i}]")
            segment_time = _place(clip, bg, previous, rng, max_tries=10)
            if segment_time != NO_ROOM:
                _add_at(bg, clip, segment_time[0])  # bg is our own copy: add in place
                placed[name].append(segment_time)
                if name == "activates":
                    insert_ones(y, segment_time[1])
    level = dbfs(bg)
    if math.isfinite(level):  # as match_target_amplitude, in place; silence stays silent
        gain = np.float32(10.0 ** ((TARGET_DBFS - level) / 20.0))
        if not clipping:  # peaks at most -1 dBFS: headroom for 16-bit rounding and resampling
            gain = min(gain, np.float32(10.0 ** (-1.0 / 20.0)) / np.float32(np.max(np.abs(bg))))
        bg *= gain
    np.clip(bg, -1.0, 1.0, out=bg)
    return SynthesizedExample(bg, y, placed["activates"], placed["negatives"])


def create_training_example(
    background,
    activates,
    negatives,
    Ty: int = TY,
    *,
    rng: RngLike = None,
    augment: Augment | None = None,
    out_wav: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The lab's function: a random example ``x [shape=(101, 5511)]``, ``y [shape=(1, Ty)]``, float32.

    ``x`` has the lab's values (the spectrogram of the 16-bit sample values). Nothing is written unless
    ``out_wav`` is given (the lab always wrote ``train.wav``); an existing ``out_wav`` is not replaced.
    """
    ex = synthesize_example(
        background, activates, negatives, rng=rng, augment=augment, Ty=Ty, _audio_out=_scratch_audio()
    )
    if out_wav is not None:
        write_wav(out_wav, ex.audio)
    return training_x(ex.audio), ex.y


_SCRATCH = threading.local()


def _scratch_audio() -> np.ndarray:
    """This thread's reusable 10 s buffer for a mix that is not returned (see ``_audio_out``)."""
    buf = getattr(_SCRATCH, "audio", None)
    if buf is None:
        buf = _SCRATCH.audio = np.empty(CLIP_SAMPLES, np.float32)
    return buf


def training_x(audio: np.ndarray, *, out: np.ndarray | None = None, workers: int | None = None) -> np.ndarray:
    """The model input for 10 s of float audio: ``spectrogram(audio * PCM16_SCALE)``, ``(101, 5511)``.

    The scale is folded into the window (no scaled copy of the audio); ``out``, if given, is a C-contiguous
    float32 ``(TX, N_FREQ)`` array that receives the values (the result is its transpose). ``workers``:
    threads, as in :func:`twd_lab.spectrogram.spectrogram`.
    """
    from twd_lab.spectrogram import pcm16_frames

    audio = np.asarray(audio, dtype=np.float32)
    if audio.shape != (CLIP_SAMPLES,):
        raise ValueError(f"audio must have shape ({CLIP_SAMPLES},) (10 s at 44.1 kHz), got {audio.shape}")
    return pcm16_frames(audio, out=out, workers=workers).T
