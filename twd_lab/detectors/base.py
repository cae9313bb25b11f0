"""The one detector interface: a stream of probabilities, a firing rule, and passes over arrays and files.

Every detector (the lab network, :class:`~twd_lab.detectors.lab.LabDetector`; the speech-embedding
detector, :class:`~twd_lab.detectors.embedding.EmbeddingDetector`, personalised heads included) offers:

* ``step_s``: seconds between its output steps (7.26 ms; 80 ms), and :meth:`Detector.step_times`;
* ``rule``: its default :class:`FiringRule` (threshold, patience, refractory in its own steps);
* :meth:`Detector.stream`: a :class:`DetectorStream` that takes chunks of 44.1 kHz float audio of any
  size, ``feed(chunk) -> (probabilities, times_s)``, then ``finish()``; what it carries never grows.

Everything else is built here on those, once, for all detectors: :meth:`Detector.hear` (an array, fed
to a stream in blocks) and :meth:`Detector.detect` and :func:`detect_blocks` (files read in blocks by
:mod:`twd_lab.decoding`, level-matched, fed to one stream, fired as they go). A whole file *is* the
stream over its blocks, so memory does not grow with its length and chunked equals whole.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twd_lab.constants import DETECT_LEAD_S, DETECT_TAIL_S, SAMPLE_RATE, TARGET_DBFS

PathLike = str | os.PathLike

#: Seconds of audio per block when an array or a file is fed to a stream.
FEED_BLOCK_S = 10.0
#: Float samples beyond this are not audio in [-1, 1] (int16 units fed as floats, say): refused. Not 1 or 2:
#: a file level-matched to -20 dBFS, as ``detect`` hears it, can peak well above 1 (a quiet recording with a
#: loud click: real read speech reached 2.03), and must still be heard; int16 units reach the thousands.
MAX_SAMPLE = 64.0

__all__ = [
    "FEED_BLOCK_S",
    "Detector",
    "DetectorStream",
    "FiringRule",
    "Trigger",
    "detect_blocks",
    "trigger_records",
]


class Trigger(NamedTuple):
    """One firing of the detector: when (seconds from the start of the audio) and its probability."""

    time_s: float
    score: float


def trigger_records(times_s, scores) -> list[Trigger]:
    """:class:`Trigger` records for firings at ``times_s`` (seconds) with their ``scores``, both rounded to
    4 decimals (0.1 ms; a lab step is 7.26 ms, an embedding step 80 ms): the one form every detector
    reports."""
    return [
        Trigger(round(float(t), 4), round(float(p), 4))
        for t, p in zip(np.asarray(times_s).reshape(-1), np.asarray(scores).reshape(-1))
    ]


def picked_triggers(picker, probs: np.ndarray, times_s: np.ndarray) -> list[Trigger]:
    """Feed a stream's new ``probs`` (decided at ``times_s``) to ``picker`` (a
    :class:`twd_lab.metrics.TriggerPicker` that has seen the stream's earlier steps) and return the
    :class:`Trigger` records of the steps it fires on. The picker counts steps from the stream's start;
    this turns them back into places in ``probs``."""
    steps = picker.update(probs) - (picker.steps_seen - probs.size)
    return trigger_records(times_s[steps], probs[steps])


@dataclass(frozen=True)
class FiringRule:
    """When a detector fires (:class:`twd_lab.metrics.TriggerPicker`): at the ``patience``-th consecutive
    step above ``threshold``, then not again for ``refractory`` steps (the detector's own steps)."""

    threshold: float
    patience: int
    refractory: int

    def __post_init__(self):
        self.picker()  # validates now

    def with_overrides(self, threshold=None, patience=None, refractory=None) -> FiringRule:
        """This rule with the values that are not ``None`` replaced."""
        return FiringRule(
            self.threshold if threshold is None else float(threshold),
            self.patience if patience is None else int(patience),
            self.refractory if refractory is None else int(refractory),
        )

    def picker(self):
        """A fresh :class:`~twd_lab.metrics.TriggerPicker` for a stream."""
        from twd_lab.metrics import TriggerPicker

        return TriggerPicker(self.threshold, self.patience, self.refractory)

    def fire(self, probs, times_s) -> list[Trigger]:
        """Where probabilities decided at ``times_s`` fire: ``[Trigger(time_s, score), ...]``."""
        probs = np.asarray(probs).reshape(-1)
        if probs.size and not np.all(np.isfinite(probs)):
            raise ValueError("probs must be finite numbers")
        steps = self.picker().update(probs)
        return trigger_records(np.asarray(times_s).reshape(-1)[steps], probs[steps])


class DetectorStream(ABC):
    """A detector hearing one stream: ``feed(chunk) -> (probabilities, times_s)``, then ``finish()``.

    Chunks are 1-D float audio in [-1, 1] at ``sample_rate`` Hz (44.1 kHz unless the stream was made with
    another: say so, 16 kHz audio fed as 44.1 kHz is heard 2.76 times too fast), of any size (0 included);
    ``gain_db`` is applied to every sample. Floats beyond +-2 (int16 units as floats) are refused. ``times_s`` are when each new step is decided, in seconds from the first sample. Feeding
    a signal in any chunks gives the same probabilities (to float rounding) as feeding it whole. A
    subclass implements :meth:`_advance` (new samples in, the probabilities of the steps they complete out).
    """

    def __init__(self, detector: Detector, *, gain_db: float = 0.0, sample_rate: int = SAMPLE_RATE):
        from twd_lab.decoding import MAX_RATE, MIN_RATE, BlockResampler

        if not np.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of decibels, got {gain_db}")
        if (
            isinstance(sample_rate, bool)
            or not float(sample_rate).is_integer()
            or not (MIN_RATE <= sample_rate <= MAX_RATE)
        ):
            raise ValueError(
                f"sample_rate must be a whole number of Hz in {MIN_RATE}-{MAX_RATE}, got {sample_rate!r}"
            )
        self.detector = detector
        self.gain = np.float32(10.0 ** (float(gain_db) / 20.0))
        self.sample_rate = int(sample_rate)
        # audio at another rate is resampled to 44.1 kHz as it comes (as resample_poly on the whole)
        self._to_44k = None
        if self.sample_rate != SAMPLE_RATE:
            self._to_44k = BlockResampler(self.sample_rate, SAMPLE_RATE)
        self.samples_seen = 0
        self.steps_seen = 0
        self.finished = False
        #: May the stream hold steps back to compute them in bigger blocks, until the next chunk or
        #: finish()? Passes that always finish (files, arrays) say yes; a live stream gets every step at once.
        self.hold_back = False
        self.compute_s = 0.0  # seconds spent in feed() and finish()

    @abstractmethod
    def _advance(self, x: np.ndarray) -> np.ndarray:
        """Take the next samples (float32, gain applied); return the probabilities of the steps completed.
        A stream may hold back steps to compute them in bigger blocks; an empty ``x`` gives them all."""

    @property
    def time_s(self) -> float:
        """Seconds of audio fed so far."""
        return self.samples_seen / self.sample_rate

    def feed(self, samples) -> tuple[np.ndarray, np.ndarray]:
        """Take the next samples; return the new steps' probabilities ``(k,)`` and times ``(k,)`` (s)."""
        t0 = time.perf_counter()
        if self.finished:
            raise ValueError("this stream has finished (finish() was called); start another with stream()")
        x = check_chunk(samples)
        self.samples_seen += x.size
        if self._to_44k is not None:
            x = self._to_44k.feed(x)
        out = self._steps(self._advance(x * self.gain if self.gain != 1 else x))
        self.compute_s += time.perf_counter() - t0
        return out

    def _steps(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs = np.asarray(probs, np.float32).reshape(-1)
        times = self.detector.step_times(np.arange(self.steps_seen, self.steps_seen + probs.size))
        self.steps_seen += probs.size
        return probs, times

    def finish(self, tail_s: float = DETECT_TAIL_S) -> tuple[np.ndarray, np.ndarray]:
        """The stream has ended: hear ``tail_s`` seconds of silence after it, so a word said right at the
        end is still decided (as ``twd-lab detect`` pads a file), and return the last steps. Their times
        may lie up to ``tail_s`` past :attr:`time_s`, which stays the stream's own length."""
        check_seconds("tail_s", tail_s)
        heard = self.samples_seen
        probs, times = self.feed(np.zeros(round(tail_s * self.sample_rate), np.float32))
        # and whatever a stream held back for a bigger block (an empty chunk flushes it)
        more, more_times = self._steps(self._advance(np.zeros(0, np.float32)))
        self.samples_seen, self.finished = heard, True
        return np.concatenate([probs, more]), np.concatenate([times, more_times])


def check_seconds(name: str, value: float) -> float:
    """``value`` if it is a number of seconds of silence a stream may hear (0 to 60); else raise naming it."""
    if not (np.isfinite(value) and 0 <= value <= 60):
        raise ValueError(f"{name} must be between 0 and 60 seconds, got {value}")
    return float(value)


def check_chunk(samples) -> np.ndarray:
    """A chunk as float32 ``(n,)``; raise naming what is wrong (shape, type, NaN, int16-scaled values)."""
    x = np.asarray(samples)
    if x.ndim != 1 or x.dtype.kind != "f":
        raise ValueError(
            f"samples must be a 1-D float array (mono, in [-1, 1], 44.1 kHz), got shape {x.shape} of {x.dtype}"
        )
    if x.size:
        peak = float(np.max(np.abs(x)))
        if not np.isfinite(peak):
            raise ValueError("samples must be finite (no NaN or infinity)")
        if peak > MAX_SAMPLE:
            raise ValueError(
                f"samples must be float audio in [-1, 1], got values up to {peak:g}; int16 audio as floats? "
                "divide it by 32768"
            )
    return x.astype(np.float32, copy=False)


class Detector(ABC):
    """What every detector offers: see the module's notes. Audio in is 44.1 kHz mono float in [-1, 1]."""

    #: A short name for messages and JSON ("lab", "embedding"), and one for sentences.
    kind: str = "detector"
    title: str = "the detector"
    #: Seconds between output steps.
    step_s: float

    @property
    @abstractmethod
    def rule(self) -> FiringRule:
        """The detector's own firing rule (refractory in its own steps)."""

    @abstractmethod
    def stream(self, *, gain_db: float = 0.0, sample_rate: int = SAMPLE_RATE) -> DetectorStream:
        """A fresh stream (nothing heard yet) of audio at ``sample_rate`` Hz, times ``gain_db``."""

    @abstractmethod
    def step_times(self, steps) -> np.ndarray:
        """Seconds at which output steps (indices from the start) are decided."""

    def warm_up(self) -> None:
        """Load and compile what the first chunk would otherwise wait for (a live stream calls it)."""

    def step_targets(self, word_ends_s, n_steps: int) -> tuple[np.ndarray, np.ndarray] | None:
        """What the detector was trained to output on audio whose words end at ``word_ends_s`` (s from the
        start): per-step labels and loss weights, float32 ``(n_steps,)`` each (weight 0: either answer is
        right). Frame accuracy and loss are measured against these. None: the detector does not say."""
        return None

    def hear(self, audio, *, block_s: float = FEED_BLOCK_S) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities of 44.1 kHz float ``audio`` ``(n,)`` used as it is, and when each is decided (s):
        the stream fed in blocks of ``block_s`` seconds (no silence added after it)."""
        audio = np.asarray(audio, np.float32).reshape(-1)
        stream = self.stream()
        stream.hold_back = True
        n = max(1, round(block_s * SAMPLE_RATE))
        parts = [stream.feed(audio[a : a + n]) for a in range(0, audio.size, n)]
        parts.append(stream.finish(0.0))
        return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])

    def detect(self, audio, rule: FiringRule | None = None) -> list[Trigger]:
        """Where the detector fires on 44.1 kHz ``audio`` used as it is (its own rule by default)."""
        return (rule or self.rule).fire(*self.hear(audio))


# ----------------------------------------------------------------------------------- files in blocks


def _level_gain_db(paths: list[Path], block_s: float) -> float:
    """Gain that brings the audio of ``paths`` (one signal, end to end) to -20 dBFS: the level every
    training clip has. A first pass over the blocks (also where a broken file is refused, before any
    detection); silence gets no gain."""
    from twd_lab.decoding import read_blocks

    total, n = 0.0, 0
    for path in paths:
        for block in read_blocks(path, block_s=block_s):
            total += float(np.dot(block, block))
            n += block.size
    if n == 0 or total <= 0.0:
        return 0.0
    return TARGET_DBFS - 10.0 * np.log10(total / n)


def detect_blocks(
    detector: Detector,
    paths: PathLike | Iterable[PathLike],
    *,
    rule: FiringRule | None = None,
    lead_s: float = DETECT_LEAD_S,
    tail_s: float = DETECT_TAIL_S,
    block_s: float = FEED_BLOCK_S,
    level_match: bool = True,
) -> dict:
    """Detect in a file, or in several files heard end to end as one signal, in bounded memory.

    Each file is read in blocks of ``block_s`` seconds (:func:`twd_lab.decoding.read_blocks`), level-matched
    as a whole to -20 dBFS (a first pass), and fed to one stream after ``lead_s`` seconds of silence; the
    stream finishes with ``tail_s`` of silence. Triggers are fired as the probabilities arrive (``rule``,
    default the detector's own). Returns ``{"duration_s", "triggers": [{"time_s", "score"}]}``: times in
    seconds from the start of the first file; a word right at the end fires up to ``tail_s`` after it.
    """
    from twd_lab.decoding import read_blocks

    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    gain_db = _level_gain_db(paths, block_s) if level_match else 0.0
    rule = rule or detector.rule
    picker = rule.picker()
    stream = detector.stream(gain_db=gain_db)
    stream.hold_back = True
    lead = round(lead_s * SAMPLE_RATE) / SAMPLE_RATE
    fired: list[Trigger] = []

    def take(out) -> None:
        # rounded as every Trigger is, then moved back by the lead (as the padded whole-file pass did)
        fired.extend(
            Trigger(round(max(0.0, t.time_s - lead), 4), t.score) for t in picked_triggers(picker, *out)
        )

    check_seconds("lead_s", lead_s)
    take(stream.feed(np.zeros(round(lead_s * SAMPLE_RATE), np.float32)))
    n = 0
    for path in paths:
        for block in read_blocks(path, block_s=block_s):
            n += block.size
            take(stream.feed(block))
    take(stream.finish(tail_s))
    return {
        "duration_s": round(n / SAMPLE_RATE, 4),
        "triggers": [{"time_s": t.time_s, "score": t.score} for t in fired],
    }
