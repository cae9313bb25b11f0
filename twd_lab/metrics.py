"""How good is a detector: frame accuracy (and why it misleads), events, false accepts, DET curves.

Plain numpy (matplotlib only inside :func:`plot_det`); no Keras.

* Frame accuracy counts output steps. About 93% of the lab's steps are 0, so a model that always says
  "no" scores ~0.93: :func:`frame_accuracy` always reports that all-zeros baseline beside it.
* Events count words. :func:`find_triggers` turns per-step probabilities into the steps where the
  detector fires (the one place that logic lives); :func:`event_scores` matches firings to the true
  word ends: a firing within ``window`` seconds of a word's end (default -0.2 s ... +1.2 s) detects it,
  each word and each firing is matched at most once, and every unmatched firing is a false accept.
* :func:`det_curve` sweeps the threshold: miss rate against false accepts per hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from twd_lab.constants import PATIENCE, REFRACTORY, STEP_S, THRESHOLD

#: Where a firing must fall, in seconds relative to the end of the word, to count as a detection.
WINDOW_S = (-0.2, 1.2)


class FrameAccuracy(NamedTuple):
    """Fraction of output steps classified right, and what always answering 0 would score."""

    accuracy: float
    all_zeros_baseline: float


def frame_accuracy(y_true, probs, threshold: float = THRESHOLD) -> FrameAccuracy:
    """Frame accuracy of ``probs > threshold`` against 0/1 labels ``y_true`` (same shape, any).

    >>> frame_accuracy([0, 0, 0, 1], [0.1, 0.2, 0.9, 0.4])
    FrameAccuracy(accuracy=0.5, all_zeros_baseline=0.75)
    """
    y = np.asarray(y_true)
    p = np.asarray(probs)
    if y.shape != p.shape:
        raise ValueError(f"y_true and probs must have the same shape, got {y.shape} and {p.shape}")
    if y.size == 0:
        raise ValueError("y_true is empty")
    truth = y > 0.5
    return FrameAccuracy(float(np.mean((p > threshold) == truth)), float(np.mean(~truth)))


# --- firing ----------------------------------------------------------------------------------------


class TriggerPicker:
    """Picks firing steps from probabilities that arrive in chunks (a stream) or all at once.

    The detector fires at step ``i`` when the last ``patience`` steps (``i`` included) were all above
    ``threshold`` and at least ``refractory`` steps have passed since it last fired. A run that stays
    above the threshold fires again after ``refractory`` steps, as the lab's chime loop does.
    ``update`` returns global step indices; feeding chunks gives the same firings as one call.
    """

    def __init__(self, threshold: float = THRESHOLD, patience: int = PATIENCE, refractory: int = REFRACTORY):
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1 step, got {patience}")
        if int(refractory) < 0:
            raise ValueError(f"refractory must be >= 0 steps, got {refractory}")
        self.threshold = float(threshold)
        self.patience = int(patience)
        self.refractory = max(int(refractory), 1)
        self.steps_seen = 0
        self._run = 0  # steps above threshold at the end of what was seen
        self._last_fire: int | None = None

    def update(self, probs) -> np.ndarray:
        """Feed the next probabilities (1-D, or any shape with one non-unit axis); return new firings."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        n = p.size
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        steps = self.steps_seen + np.arange(n)
        above = p > self.threshold
        # index of the latest step not above the threshold, at or before each step
        last_below = np.maximum.accumulate(np.where(above, self.steps_seen - 1 - self._run, steps))
        run = steps - last_below
        candidates = steps[run >= self.patience]
        fired: list[int] = []
        allowed = -np.inf if self._last_fire is None else self._last_fire + self.refractory
        while True:
            j = int(np.searchsorted(candidates, allowed))
            if j == candidates.size:
                break
            fired.append(int(candidates[j]))
            allowed = candidates[j] + self.refractory
        if fired:
            self._last_fire = fired[-1]
        self._run = int(run[-1])
        self.steps_seen += n
        return np.asarray(fired, dtype=np.int64)


def find_triggers(
    probs, threshold: float = THRESHOLD, patience: int = PATIENCE, refractory: int = REFRACTORY
) -> np.ndarray:
    """Steps where the detector fires (see :class:`TriggerPicker` for the rule), as int indices.

    ``probs``: per-step probabilities, shape ``(Ty,)`` (or ``(1, Ty, 1)`` and the like).
    ``patience``: consecutive steps above ``threshold`` before firing (1 fires at once).
    ``refractory``: steps after a firing before it may fire again (the lab: 75).

    >>> find_triggers([0.1, 0.9, 0.9, 0.9, 0.2, 0.8], patience=2, refractory=3)
    array([2])
    >>> find_triggers([0.1, 0.9, 0.9, 0.9, 0.2, 0.8], patience=1, refractory=3)
    array([1, 5])
    """
    return TriggerPicker(threshold, patience, refractory).update(probs)


def threshold_for_false_accepts(
    no_word_probs,
    hours: float,
    target_per_hour: float,
    *,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    candidates=None,
) -> tuple[float, float]:
    """The lowest threshold that fires at most ``target_per_hour`` times an hour on audio without the word.

    ``no_word_probs``: per-step probabilities of each clip of such audio (a sequence of 1-D arrays),
    ``hours`` long in all. Firing follows :func:`find_triggers` with ``patience`` and ``refractory``
    (steps). ``candidates``: thresholds to try (default 0.50, 0.51, ... 0.99, 0.991, ... 0.999). Returns
    ``(threshold, false accepts per hour at it)``; when none meets the target, the one with the fewest.
    A target below ``1 / hours`` cannot be told from zero: measure on more audio.
    """
    if not hours > 0:
        raise ValueError(f"hours must be > 0 (the length of the audio without the word), got {hours!r}")
    if not target_per_hour >= 0:
        raise ValueError(f"target_per_hour must be >= 0, got {target_per_hour!r}")
    if candidates is None:
        candidates = np.concatenate([np.arange(50, 100) / 100, np.arange(991, 1000) / 1000])
    best = None
    for threshold in sorted(float(c) for c in candidates):
        fires = sum(len(find_triggers(p, threshold, patience, refractory)) for p in no_word_probs)
        rate = fires / hours
        if rate <= target_per_hour:
            return threshold, rate
        if best is None or rate < best[1]:
            best = (threshold, rate)
    if best is None:
        raise ValueError("candidates must hold at least one threshold")
    return best


# --- events ----------------------------------------------------------------------------------------


def _times(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite times in seconds")
    return np.sort(arr)


def _covered_s(ends: np.ndarray, window: tuple[float, float], duration_s: float) -> float:
    """Seconds of [0, duration_s] inside some word's window (the union, so overlaps count once)."""
    total, cur_a, cur_b = 0.0, None, None
    for e in ends:
        a, b = max(0.0, e + window[0]), min(duration_s, e + window[1])
        if b <= a:
            continue
        if cur_b is not None and a <= cur_b:
            cur_b = max(cur_b, b)
            continue
        if cur_b is not None:
            total += cur_b - cur_a
        cur_a, cur_b = a, b
    if cur_b is not None:
        total += cur_b - cur_a
    return total


@dataclass(frozen=True)
class EventScores:
    """Event counts for one or more recordings; add two with ``+`` to pool them.

    ``negative_s`` is the audio without the word: the duration minus every word's window, the
    denominator of false accepts per hour.
    """

    hits: int
    n_words: int
    n_triggers: int
    duration_s: float
    negative_s: float

    def __add__(self, other: EventScores) -> EventScores:
        return EventScores(
            self.hits + other.hits,
            self.n_words + other.n_words,
            self.n_triggers + other.n_triggers,
            self.duration_s + other.duration_s,
            self.negative_s + other.negative_s,
        )

    @property
    def false_accepts(self) -> int:
        return self.n_triggers - self.hits

    @property
    def precision(self) -> float:
        """Firings that detect a word, over all firings (1.0 when it never fires)."""
        return self.hits / self.n_triggers if self.n_triggers else 1.0

    @property
    def recall(self) -> float:
        """Words detected, over all words (1.0 when there are none)."""
        return self.hits / self.n_words if self.n_words else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def miss_rate(self) -> float:
        return 1.0 - self.recall

    @property
    def false_accepts_per_hour(self) -> float:
        """False accepts per hour of audio without the word (inf if there is none)."""
        if self.negative_s <= 0:
            return 0.0 if self.false_accepts == 0 else float("inf")
        return self.false_accepts * 3600.0 / self.negative_s

    def as_dict(self) -> dict:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "miss_rate": self.miss_rate,
            "false_accepts": self.false_accepts,
            "false_accepts_per_hour": self.false_accepts_per_hour,
            "hits": self.hits,
            "n_words": self.n_words,
            "n_triggers": self.n_triggers,
            "duration_s": self.duration_s,
            "negative_s": self.negative_s,
        }


def event_scores(
    true_end_times_s: Sequence[float],
    trigger_times_s: Sequence[float],
    duration_s: float,
    window: tuple[float, float] = WINDOW_S,
) -> EventScores:
    """Match firings to words in one recording and count hits, misses and false accepts.

    A firing at ``t`` detects the word ending at ``e`` when ``window[0] <= t - e <= window[1]``; each
    word and each firing is used at most once (matched in time order, which is optimal here because
    every word's window has the same length).

    >>> s = event_scores([2.0, 6.0], [2.3, 2.4, 9.0], duration_s=10.0)
    >>> s.hits, s.recall, round(s.precision, 3), s.false_accepts
    (1, 0.5, 0.333, 2)
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    matches = match_firings(true_end_times_s, trigger_times_s, window)
    hits = sum(m is not None for m in matches)
    ends = _times(true_end_times_s, "true_end_times_s")
    negative_s = float(duration_s) - _covered_s(ends, (float(window[0]), float(window[1])), float(duration_s))
    return EventScores(hits, int(ends.size), len(matches), float(duration_s), negative_s)


def match_firings(
    true_end_times_s: Sequence[float],
    trigger_times_s: Sequence[float],
    window: tuple[float, float] = WINDOW_S,
) -> list[int | None]:
    """For each firing (in the order given), the index of the word it detects, or ``None`` (a false accept).

    The rule of :func:`event_scores`: a firing at ``t`` detects the word ending at ``e`` when
    ``window[0] <= t - e <= window[1]``; words and firings are matched at most once, in time order.

    >>> match_firings([2.0, 6.0], [9.0, 2.3, 2.4])
    [None, 0, None]
    """
    lo, hi = float(window[0]), float(window[1])
    if lo > hi:
        raise ValueError(f"window must be (start, end) with start <= end, got {window}")
    ends = np.asarray(true_end_times_s, dtype=np.float64).reshape(-1)
    fires = np.asarray(trigger_times_s, dtype=np.float64).reshape(-1)
    _times(ends, "true_end_times_s"), _times(fires, "trigger_times_s")  # finite, or an error naming them
    end_order = np.argsort(ends, kind="stable")
    matches: list[int | None] = [None] * fires.size
    w = 0
    tol = 1e-9  # so that a firing exactly on a window edge counts despite float rounding
    for f in np.argsort(fires, kind="stable"):
        t = fires[f]
        while w < ends.size and t - ends[end_order[w]] > hi + tol:  # this word's window has passed
            w += 1
        if w < ends.size and t - ends[end_order[w]] >= lo - tol:
            matches[f] = int(end_order[w])
            w += 1
    return matches


def steps_to_seconds(steps, step_s: float = STEP_S) -> np.ndarray:
    """Output step indices to seconds from the start (the lab's 1,375 steps per 10 s)."""
    return np.asarray(steps, dtype=np.float64) * step_s


# --- DET curve -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetCurve:
    """Miss rate and false accepts per hour at each threshold (thresholds ascending)."""

    thresholds: np.ndarray
    miss_rate: np.ndarray
    false_accepts_per_hour: np.ndarray


def det_curve(
    true_end_times_s: Sequence[Sequence[float]],
    probs: Sequence[np.ndarray],
    *,
    step_s: float = STEP_S,
    durations_s: Sequence[float] | None = None,
    thresholds: Sequence[float] | None = None,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    window: tuple[float, float] = WINDOW_S,
) -> DetCurve:
    """Sweep the threshold over recordings: ``true_end_times_s[i]`` are the word ends of recording
    ``i`` and ``probs[i]`` its per-step probabilities; durations default to ``len(probs[i]) * step_s``.
    """
    if len(true_end_times_s) != len(probs):
        raise ValueError(
            f"need one list of word ends per recording, got {len(true_end_times_s)} and {len(probs)}"
        )
    if thresholds is None:
        thresholds = np.linspace(0.05, 0.95, 19)
    thresholds = np.sort(np.asarray(thresholds, dtype=np.float64))
    flat = [np.asarray(p, dtype=np.float64).reshape(-1) for p in probs]
    if durations_s is None:
        durations_s = [p.size * step_s for p in flat]
    miss, fa = [], []
    for thr in thresholds:
        total = EventScores(0, 0, 0, 0.0, 0.0)
        for ends, p, dur in zip(true_end_times_s, flat, durations_s):
            fires = steps_to_seconds(find_triggers(p, thr, patience, refractory), step_s)
            total = total + event_scores(ends, fires, dur, window)
        miss.append(total.miss_rate)
        fa.append(total.false_accepts_per_hour)
    return DetCurve(thresholds, np.asarray(miss), np.asarray(fa))


def plot_det(curve: DetCurve, *, ax=None, label: str | None = None, annotate: bool = True):
    """Draw a DET curve (false accepts per hour on x, miss rate on y); returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ax.plot(curve.false_accepts_per_hour, curve.miss_rate, marker="o", markersize=3, label=label)
    if annotate:
        for thr, x, y in zip(curve.thresholds, curve.false_accepts_per_hour, curve.miss_rate):
            if np.isclose(thr * 10, round(thr * 10)):  # label every 0.1
                ax.annotate(f"{thr:.1f}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("miss rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    if label is not None:
        ax.legend()
    return ax
