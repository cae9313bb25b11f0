"""One file in, triggers out, with either detector: what ``twd-lab detect`` runs for each FILE.

:func:`load_detector` picks the detector (the speech-embedding one by default where it can run, else the lab
network); :func:`detect_file` reads a WAV of any format, level-matches it, hears it with a little silence
at both edges (:func:`twd_lab.detection.pad_edges`, so a recording of the word alone is found) and
returns the JSON form ``twd-lab detect --json`` prints, optionally writing a chimed copy (never over the
input). The lab's own functions (``detect_triggerword``, ``chime_on_activate``) stay in
:mod:`twd_lab.detection`.
"""

from __future__ import annotations

import os

import numpy as np

from twd_lab.constants import (
    DETECT_LEAD_S,
    DETECT_TAIL_S,
    PATIENCE,
    REFRACTORY,
    SAMPLE_RATE,
    TARGET_DBFS,
    THRESHOLD,
)
from twd_lab.detection import (
    Trigger,
    check_new_file,
    chime_at,
    load_audio,
    pad_edges,
    padded_lead_s,
    probabilities,
)
from twd_lab.inference import step_times_s, trigger_records

PathLike = str | os.PathLike

__all__ = [
    "DETECTORS",
    "default_rule",
    "detect_file",
    "detector_kind",
    "embedding_detector_available",
    "fire",
    "load_detector",
    "needs_keras",
    "probabilities_and_times",
]


DETECTORS = ("auto", "embedding", "lab")


def embedding_detector_available() -> bool:
    """True when the speech-embedding detector can run here: its packages and its bundled head."""
    import importlib.util

    from twd_lab.embedding_detector import default_head_path

    have = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "openwakeword"))
    return have and default_head_path().is_file()


def detector_kind(
    kind: str = "auto", model_path: PathLike | None = None, *, head_path: PathLike | None = None
) -> str:
    """Which detector :func:`load_detector` loads for these arguments: ``"embedding"`` or ``"lab"``."""
    if kind not in DETECTORS:
        raise ValueError(f"kind must be one of {DETECTORS}, got {kind!r}")
    if head_path is not None:
        if kind == "lab" or model_path is not None:
            raise ValueError("head_path is a speech-embedding head; it does not go with the lab network")
        kind = "embedding"
    if kind == "auto":
        kind = "lab" if model_path is not None or not embedding_detector_available() else "embedding"
    if kind == "embedding" and model_path is not None:
        raise ValueError("model_path is a lab-network .keras file; it does not go with kind='embedding'")
    return kind


def needs_keras(kind: str, *, head_path: PathLike | None = None) -> bool:
    """Whether loading this detector imports Keras (and so TensorFlow): always for the lab network; for
    the embedding detector only when its head has no matching NumPy copy (:mod:`twd_lab.numpy_head`)."""
    if kind != "embedding":
        return True
    from twd_lab.embedding_detector import default_head_path
    from twd_lab.numpy_head import matches_keras_file

    return not matches_keras_file(head_path if head_path is not None else default_head_path())


def load_detector(
    kind: str = "auto", model_path: PathLike | None = None, *, head_path: PathLike | None = None
):
    """The detector ``twd-lab detect`` runs: ``(detector, kind)``.

    ``head_path``: a speech-embedding head to use instead of the shipped one (e.g. from
    :func:`twd_lab.personalize.personalize`); it selects the embedding detector.

    ``"embedding"``: :class:`twd_lab.embedding_detector.EmbeddingDetector` (frozen speech embeddings and a
    small head; far better on real voices, see the README's table). ``"lab"``: the lab network, from
    ``model_path`` or the shipped ``assets/model.keras``. ``"auto"`` (default): the lab network when
    ``model_path`` is given, else the embedding detector when it can run here, else the lab network.
    """
    kind = detector_kind(kind, model_path, head_path=head_path)
    if kind == "embedding":
        from twd_lab.embedding_detector import EmbeddingDetector

        return EmbeddingDetector.load(head_path), kind
    from twd_lab.inference import load_keras_model

    return load_keras_model(model_path), kind


def _is_embedding_detector(model) -> bool:
    if model is None or type(model).__name__ != "EmbeddingDetector":
        return False
    from twd_lab.embedding_detector import EmbeddingDetector

    return isinstance(model, EmbeddingDetector)


def probabilities_and_times(detector, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Either detector's probabilities for level-matched 44.1 kHz ``audio``, and when each step is decided
    (s): the lab network's 7.26 ms steps, or the embedding detector's 80 ms steps."""
    if _is_embedding_detector(detector):
        return detector.probabilities(audio, SAMPLE_RATE)
    probs = probabilities(audio, detector)
    return probs, step_times_s(np.arange(probs.size))


def default_rule(detector) -> tuple[float, int, int]:
    """A detector's own ``(threshold, patience, refractory)``, the refractory in its own steps."""
    if _is_embedding_detector(detector):
        c = detector.config
        return c.threshold, c.patience, detector.refractory_steps
    return THRESHOLD, PATIENCE, REFRACTORY


def fire(probs, times_s, threshold: float, patience: int, refractory: int) -> list[Trigger]:
    """Where a detector with these probabilities (decided at ``times_s``) fires, by
    :func:`twd_lab.metrics.find_triggers`: ``[Trigger(time_s, score), ...]``."""
    from twd_lab.metrics import find_triggers

    probs = np.asarray(probs).reshape(-1)
    steps = find_triggers(probs, threshold, patience, refractory)
    return trigger_records(np.asarray(times_s)[steps], probs[steps])


def _fire(model, audio: np.ndarray, threshold, patience, refractory) -> list[Trigger]:
    """Triggers of either detector on level-matched audio, each with its own firing rule by default."""
    given = (threshold, patience, refractory)
    rule = [own if value is None else value for value, own in zip(given, default_rule(model))]
    return fire(*probabilities_and_times(model, audio), *rule)


def detect_file(
    path: PathLike,
    model=None,
    *,
    threshold: float | None = None,
    patience: int | None = None,
    refractory: int | None = None,
    chime_out: PathLike | None = None,
    overwrite: bool = False,
    lead_s: float = DETECT_LEAD_S,
    tail_s: float = DETECT_TAIL_S,
) -> dict:
    """Detect in one WAV file: ``{"file": str, "duration_s": float, "triggers": [{"time_s", "score"}, ...]}``.

    The form ``twd-lab detect --json`` prints. ``model`` is a lab-network Keras model (None: the shipped
    one) or an :class:`~twd_lab.embedding_detector.EmbeddingDetector` (see :func:`load_detector`).
    ``threshold``, ``patience`` and ``refractory`` (in the detector's own output steps) default to the
    detector's own rule. With ``chime_out`` the chimed audio is written there too (see
    :func:`chime_on_activate`; checked before any work is done).

    The detector hears the file with ``lead_s`` seconds of silence before it and ``tail_s`` after it
    (:func:`pad_edges`; 0 and 0 to hear it bare), so a word said right at the start or the end of a file
    is found. Times are seconds from the file's start; a word at its very end fires up to ``tail_s``
    after the end, and the chimed copy is then that much longer, so the chime is heard.
    """
    if chime_out is not None:
        check_new_file(chime_out, source=path, overwrite=overwrite)
    audio = load_audio(path)
    duration_s = audio.size / SAMPLE_RATE
    from twd_lab.audio import match_target_amplitude

    heard = pad_edges(match_target_amplitude(audio, TARGET_DBFS), lead_s, tail_s)
    lead = padded_lead_s(lead_s)
    fired = [
        Trigger(round(max(0.0, t.time_s - lead), 4), t.score)
        for t in _fire(model, heard, threshold, patience, refractory)
    ]
    if chime_out is not None:
        from twd_lab.audio import write_wav

        if any(t.time_s >= duration_s for t in fired):
            audio = pad_edges(audio, 0.0, tail_s)  # room for a chime after a word at the very end
        write_wav(
            check_new_file(chime_out, source=path, overwrite=overwrite),
            chime_at(audio, fired),
            SAMPLE_RATE,
            overwrite=overwrite,
        )
    return {
        "file": str(path),
        "duration_s": round(duration_s, 4),
        "triggers": [{"time_s": t.time_s, "score": t.score} for t in fired],
    }
