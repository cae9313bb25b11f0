"""Evaluate a detector on a seeded set of synthesized 10 s test clips: the numbers behind ``twd-lab evaluate``.

A test set is built from any lab-style folder (``activates/``, ``negatives/``, ``backgrounds/``) by
the same synthesis as training, so every clip comes with the times its trigger words end.
:func:`evaluate_detector` hears each clip through any detector's stream (the one
:class:`~twd_lab.detectors.Detector` interface; what ``twd-lab evaluate`` runs) and reports frame accuracy
against the detector's own training targets beside the all-zeros baseline, event precision/recall/F1,
miss rate, false accepts per hour and a DET curve. :func:`evaluate_model` is the lab's view of the same:
a Keras model over a :class:`TestSet` of spectrograms and labels, as the lesson builds them.

>>> report = evaluate_detector(load_detector()[0], "heldout", n=200, seed=0)   # doctest: +SKIP
>>> test = build_test_set("heldout", n=200, seed=0)               # doctest: +SKIP
>>> print(format_table([report, evaluate_model(model, test)]))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twd_lab.constants import BACKGROUND_GAIN_DB, PATIENCE, REFRACTORY, SAMPLE_RATE, STEP_S, THRESHOLD
from twd_lab.metrics import (
    WINDOW_S,
    EventScores,
    det_curve,
    event_scores,
    find_triggers,
    frame_accuracy,
    steps_to_seconds,
)
from twd_lab.rng import as_generator

#: The real recordings the project never trains on, relative to the repository root.
REAL_SPEECH_RELATIVE = Path("..") / "shared" / "real_speech" / "coursera"


@dataclass
class TestSet:
    """Synthesized test clips: ``x`` ``(n, TX, N_FREQ)``, ``y`` ``(n, TY, 1)``, float32, and for each clip
    the end times (s) of its trigger words. ``source`` says where the clips came from."""

    __test__ = False  # not a pytest test class

    x: np.ndarray
    y: np.ndarray
    word_ends_s: list[list[float]]
    source: str
    seed: int

    def __len__(self) -> int:
        return len(self.x)

    @property
    def duration_s(self) -> float:
        from twd_lab.constants import CLIP_MS

        return len(self) * CLIP_MS / 1000.0


def real_speech_dir() -> Path | None:
    """``../shared/real_speech/coursera`` next to the repository (or ``$TWD_LAB_REAL_SPEECH``); None if absent."""
    env = os.environ.get("TWD_LAB_REAL_SPEECH")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.cwd() / REAL_SPEECH_RELATIVE,
        Path(__file__).resolve().parents[1] / REAL_SPEECH_RELATIVE,
    ]
    for path in candidates:
        if (path / "activates").is_dir():
            return path.resolve()
    return None


def load_raw_arrays(raw) -> tuple[list, list, list, str]:
    """(activates, negatives, backgrounds, description) from a folder, a bundled split name or arrays."""
    from twd_lab.audio import load_raw_audio

    if raw is None or raw in ("train", "heldout"):
        from twd_lab.assets_index import bundled_raw_dir

        split = raw or "train"
        acts, negs, bgs = load_raw_audio(bundled_raw_dir(split), as_arrays=True)
        return acts, negs, bgs, f"bundled:{split}"
    if isinstance(raw, (str, os.PathLike)):
        acts, negs, bgs = load_raw_audio(raw, as_arrays=True)
        return acts, negs, bgs, str(raw)
    if isinstance(raw, Sequence) and len(raw) == 3:
        acts, negs, bgs = raw
        return list(acts), list(negs), list(bgs), "arrays"
    raise TypeError(
        "raw must be None, 'train', 'heldout', a lab-style folder or (activates, negatives, backgrounds), "
        f"got {type(raw).__name__}"
    )


def iter_test_clips(
    raw=None,
    n: int = 200,
    seed: int = 0,
    *,
    n_activates: int | None = None,
    augment: Callable | None = None,
    background_gain_db: float = BACKGROUND_GAIN_DB,
) -> Iterator[tuple[np.ndarray, list[float]]]:
    """``n`` seeded 10 s clips from ``raw`` (see :func:`load_raw_arrays`), one at a time, as
    ``(audio (CLIP_SAMPLES,) float32, [end of each activate in s, sorted])``.

    Each clip is made by :func:`twd_lab.synthesis.synthesize_example` (0-4 activates or ``n_activates``,
    0-2 negatives, the lab's levels; ``background_gain_db`` above the lab's -20 dB makes the room
    louder), with ``augment(clip, rng)`` applied to each word if given. The same arguments give the same
    clips; with ``n_activates=None`` they are those of :func:`build_test_set`.
    """
    from twd_lab.synthesis import synthesize_example

    if int(n) < 1:
        raise ValueError(f"n must be >= 1 clip, got {n}")
    acts, negs, bgs, _ = load_raw_arrays(raw)
    rng = as_generator(seed)
    for _ in range(int(n)):
        bg = bgs[int(rng.integers(len(bgs)))]
        ex = synthesize_example(
            bg,
            acts,
            negs,
            rng=rng,
            augment=augment,
            n_activates=n_activates,
            background_gain_db=background_gain_db,
        )
        yield ex.audio, sorted(end / 1000.0 for _, end in ex.activate_segments)


def pooled_scores(fires_s: Sequence, clips: Sequence) -> EventScores:
    """Event scores summed over clips: ``fires_s[i]`` are the firing times (s) on ``clips[i]``, an
    ``(audio, word_ends_s)`` pair as :func:`iter_test_clips` gives them."""
    total = EventScores(0, 0, 0, 0.0, 0.0)
    for fires, (audio, ends) in zip(fires_s, clips, strict=True):
        total = total + event_scores(ends, fires, len(audio) / SAMPLE_RATE)
    return total


def build_test_set(
    raw=None,
    n: int = 200,
    seed: int = 0,
    *,
    augment: Callable | None = None,
    progress: bool = False,
) -> TestSet:
    """Synthesize ``n`` seeded 10 s clips from ``raw`` (see :func:`load_raw_arrays`; default the bundled
    training voices, ``"heldout"`` the held-out ones, or a path to any lab-style folder) as the lab
    network's inputs ``x (n, TX, N_FREQ)`` and labels ``y (n, TY, 1)``: the clips of :func:`iter_test_clips`.
    """
    from twd_lab.constants import N_FREQ, TX, TY
    from twd_lab.spectrogram import pcm16_frames
    from twd_lab.synthesis import insert_ones

    if int(n) < 1:
        raise ValueError(f"n must be >= 1 clip, got {n}")
    source = load_raw_arrays(raw)[3]
    x = np.empty((n, TX, N_FREQ), np.float32)
    y = np.zeros((n, TY, 1), np.float32)
    ends: list[list[float]] = []
    clips = iter_test_clips(raw, n, seed, augment=augment)
    if progress:
        from tqdm.auto import tqdm

        clips = tqdm(clips, total=n, desc="test clips", unit="clip")
    for i, (audio, word_ends) in enumerate(clips):
        x[i] = pcm16_frames(audio)
        labels = y[i].reshape(1, TY)  # a view: insert_ones writes the lab's label runs into y[i]
        for end_s in word_ends:
            insert_ones(labels, round(end_s * 1000))
        ends.append(word_ends)
    return TestSet(x, y, ends, source, int(seed))


def predict_probs(model, x: np.ndarray) -> np.ndarray:
    """Per-step probabilities ``(n, Ty)`` of a Keras model on inputs ``(n, T, N_FREQ)``, inference mode.

    A Keras model runs through the detector's compiled path (:func:`twd_lab.detection.frame_probabilities`,
    with the model's current weights): the same numbers as calling it eagerly, tens of times faster. Any
    other callable ``model(x, training=False) -> (n, Ty, 1)`` is called on batches of 16.
    """
    import keras

    if isinstance(model, keras.Model):
        from twd_lab.detection import frame_probabilities

        return frame_probabilities(x, model)
    out = [np.asarray(model(x[a : a + 16], training=False))[..., 0] for a in range(0, len(x), 16)]
    return np.concatenate(out, axis=0)


def score_probs(
    probs: np.ndarray,
    test: TestSet,
    *,
    threshold: float = THRESHOLD,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    window: tuple[float, float] = WINDOW_S,
) -> EventScores:
    """Pool the event scores of every clip in ``test`` given the model's ``probs`` ``(n, Ty)``."""
    total = EventScores(0, 0, 0, 0.0, 0.0)
    for p, ends in zip(probs, test.word_ends_s):
        fires = steps_to_seconds(find_triggers(p, threshold, patience, refractory), STEP_S)
        total = total + event_scores(ends, fires, p.size * STEP_S, window)
    return total


def evaluate_model(
    model,
    test: TestSet,
    *,
    threshold: float = THRESHOLD,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    window: tuple[float, float] = WINDOW_S,
    thresholds: Sequence[float] | None = None,
    name: str | None = None,
    probs: np.ndarray | None = None,
) -> dict:
    """All metrics of ``model`` on ``test``, as a plain dict (JSON-ready).

    Keys: ``name``, ``source``, ``n_clips``, ``threshold``, ``patience``, ``refractory``, ``window_s``,
    ``frame_accuracy``, ``all_zeros_accuracy``, ``loss`` (binary cross-entropy in inference mode), the
    event scores (``precision``, ``recall``, ``f1``, ``miss_rate``, ``false_accepts``,
    ``false_accepts_per_hour``, ``hits``, ``n_words``, ``n_triggers``, ``duration_s``, ``negative_s``),
    ``best_f1`` with its ``best_threshold``, and ``det`` (thresholds, miss rate, false accepts/hour).
    """
    if probs is None:
        probs = predict_probs(model, test.x)
    y = test.y[..., 0]
    acc = frame_accuracy(y, probs, threshold)
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    scores = score_probs(
        probs, test, threshold=threshold, patience=patience, refractory=refractory, window=window
    )
    thresholds = np.round(np.linspace(0.05, 0.95, 19), 2) if thresholds is None else np.asarray(thresholds)
    det = det_curve(
        test.word_ends_s,
        list(probs),
        step_s=STEP_S,
        thresholds=thresholds,
        patience=patience,
        refractory=refractory,
        window=window,
    )
    f1s = [
        score_probs(probs, test, threshold=t, patience=patience, refractory=refractory, window=window).f1
        for t in det.thresholds
    ]
    best = int(np.argmax(f1s))
    return {
        "name": name or getattr(model, "name", "model"),
        "source": test.source,
        "seed": test.seed,
        "n_clips": len(test),
        "threshold": float(threshold),
        "patience": int(patience),
        "refractory": int(refractory),
        "window_s": [float(window[0]), float(window[1])],
        "frame_accuracy": acc.accuracy,
        "all_zeros_accuracy": acc.all_zeros_baseline,
        "loss": loss,
        **scores.as_dict(),
        "best_f1": float(f1s[best]),
        "best_threshold": float(det.thresholds[best]),
        "det": {
            "thresholds": [float(t) for t in det.thresholds],
            "miss_rate": [float(v) for v in det.miss_rate],
            "false_accepts_per_hour": [float(v) for v in det.false_accepts_per_hour],
        },
    }


def frame_metrics(targets, probs: Sequence[np.ndarray], threshold: float) -> dict:
    """``frame_accuracy`` (of ``probs > threshold``), ``all_zeros_accuracy`` and ``loss`` (binary
    cross-entropy), each weighted by the targets' weights, over every step of every clip: ``targets[i]`` is
    ``(labels, weights)`` of ``probs[i]`` (:meth:`Detector.step_targets <twd_lab.detectors.base.Detector.step_targets>`),
    or None, and then the three are None."""
    if any(t is None for t in targets) or not len(probs):
        return {"frame_accuracy": None, "all_zeros_accuracy": None, "loss": None}
    y = np.concatenate([t[0] for t in targets]).astype(np.float64)
    w = np.concatenate([t[1] for t in targets]).astype(np.float64)
    p = np.clip(np.concatenate(probs).astype(np.float64), 1e-7, 1 - 1e-7)
    total = max(float(w.sum()), 1e-12)
    truth = y > 0.5
    return {
        "frame_accuracy": float(np.sum(w * ((p > threshold) == truth)) / total),
        "all_zeros_accuracy": float(np.sum(w * ~truth) / total),
        "loss": float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / total),
    }


def evaluate_detector(
    detector,
    raw="heldout",
    n: int = 200,
    seed: int = 0,
    *,
    rule=None,
    tail_s: float = 0.0,
    window: tuple[float, float] = WINDOW_S,
    thresholds: Sequence[float] | None = None,
    name: str | None = None,
    progress: bool = False,
) -> dict:
    """All metrics of any :class:`twd_lab.detectors.Detector` (or what
    :func:`~twd_lab.detectors.files.as_detector` takes: a lab-network Keras model, a ``.keras`` path) on ``n``
    seeded 10 s clips of ``raw`` (see :func:`iter_test_clips`; default the held-out voices), as a plain dict
    (JSON-ready): what ``twd-lab evaluate`` prints.

    Each clip is level-matched as ``twd-lab detect`` hears a file (:func:`~twd_lab.detection.preprocess_audio`)
    and heard through the detector's stream with ``tail_s`` seconds of silence after it; it fires by its own
    rule (``rule`` to override; refractory in its own steps). The clips are made one at a time and only the
    probabilities are kept, so memory does not grow with the clips' audio.

    Keys: ``detector`` (its kind), ``name``, ``source``, ``seed``, ``n_clips``, ``threshold``, ``patience``,
    ``refractory``, ``step_s``, ``window_s``, ``frame_accuracy``, ``all_zeros_accuracy`` and ``loss`` against
    the detector's own training targets (:meth:`~twd_lab.detectors.base.Detector.step_targets`; None where
    it has none), the event scores (``precision``, ``recall``, ``f1``, ``miss_rate``, ``false_accepts``,
    ``false_accepts_per_hour``, ``hits``, ``n_words``, ``n_triggers``, ``duration_s``, ``negative_s``),
    ``best_f1`` with its ``best_threshold``, and ``det`` (thresholds, miss rate, false accepts/hour).
    """
    from twd_lab.detection import preprocess_audio
    from twd_lab.detectors.base import check_seconds
    from twd_lab.detectors.files import as_detector

    detector = as_detector(detector)
    rule = rule or detector.rule
    tail = np.zeros(round(check_seconds("tail_s", tail_s) * SAMPLE_RATE), np.float32)
    *arrays, source = load_raw_arrays(raw)  # a bad folder is refused here, before any work
    clips = iter_test_clips(arrays, n, seed)
    if progress:
        from tqdm.auto import tqdm

        clips = tqdm(clips, total=int(n), desc=f"test clips ({detector.kind})", unit="clip")
    heard, ends, durations = [], [], []
    for audio, word_ends in clips:
        heard.append(detector.hear(np.concatenate([preprocess_audio(audio), tail])))
        ends.append(word_ends)
        durations.append(audio.size / SAMPLE_RATE)

    def scores(r) -> EventScores:
        total = EventScores(0, 0, 0, 0.0, 0.0)
        for (probs, times), e, d in zip(heard, ends, durations):
            total = total + event_scores(e, [t.time_s for t in r.fire(probs, times)], d, window)
        return total

    thresholds = np.round(np.linspace(0.05, 0.95, 19), 2) if thresholds is None else np.sort(thresholds)
    sweep = [scores(rule.with_overrides(threshold=float(t))) for t in thresholds]
    best = int(np.argmax([s.f1 for s in sweep]))
    targets = [detector.step_targets(e, p.size) for (p, _), e in zip(heard, ends)]
    return {
        "detector": detector.kind,
        "name": name or detector.kind,
        "source": source,
        "seed": int(seed),
        "n_clips": len(heard),
        "threshold": rule.threshold,
        "patience": rule.patience,
        "refractory": rule.refractory,
        "step_s": detector.step_s,
        "window_s": [float(window[0]), float(window[1])],
        **frame_metrics(targets, [p for p, _ in heard], rule.threshold),
        **scores(rule).as_dict(),
        "best_f1": float(sweep[best].f1),
        "best_threshold": float(thresholds[best]),
        "det": {
            "thresholds": [float(t) for t in thresholds],
            "miss_rate": [float(s.miss_rate) for s in sweep],
            "false_accepts_per_hour": [float(s.false_accepts_per_hour) for s in sweep],
        },
    }


def format_table(reports: Sequence[dict]) -> str:
    """A Markdown table of reports from :func:`evaluate_detector` or :func:`evaluate_model` (one row each),
    for the terminal; a first column names the detector when the reports say (evaluate_detector's do)."""

    def num(value, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    named = any("detector" in r for r in reports)
    head = (
        "| test set | clips | threshold | recall | precision | F1 | false accepts/h | miss rate "
        "| frame acc. (all-zeros) | best F1 (threshold) |"
    )
    head = "| detector " + head if named else head
    rows = [head, "|" + " --- |" * head.count(" | ") + " --- |"]
    for r in reports:
        rows.append(
            (f"| {r.get('detector', r.get('name'))} " if named else "")
            + f"| {r['source']} | {r['n_clips']} | {r['threshold']:.2f} "
            f"| {r['recall']:.3f} | {r['precision']:.3f} | {r['f1']:.3f} | {r['false_accepts_per_hour']:.1f} "
            f"| {r['miss_rate']:.3f} | {num(r['frame_accuracy'], '.3f')} ({num(r['all_zeros_accuracy'], '.3f')}) "
            f"| {r['best_f1']:.3f} ({r['best_threshold']:.2f}) |"
        )
    return "\n".join(rows)


def standard_reports(
    detector, *, n: int = 200, seed: int = 0, raw=None, progress: bool = False, **kwargs
) -> list[dict]:
    """The project's standard evaluation of any detector (what :func:`evaluate_detector` takes): held-out TTS
    voices, and real people when the recordings exist; with ``raw`` (a lab-style folder) that folder alone.
    ``kwargs`` (``rule``, ``name``, ...) go to :func:`evaluate_detector`."""
    from twd_lab.detectors.files import as_detector

    detector = as_detector(detector)  # a Keras model or path is wrapped once, for every set
    if raw is not None:
        return [evaluate_detector(detector, raw, n, seed, progress=progress, **kwargs)]
    reports = [evaluate_detector(detector, "heldout", n, seed, progress=progress, **kwargs)]
    real = real_speech_dir()
    if real is not None:
        report = evaluate_detector(detector, real, n, seed, progress=progress, **kwargs)
        report["source"] = "real_speech/coursera"
        reports.append(report)
    return reports
