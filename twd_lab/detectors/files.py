"""One file in, triggers out, with any detector: what ``twd-lab detect`` runs for each FILE.

:func:`load_detector` picks the detector (the speech-embedding one by default where it can run, else the lab
network); :func:`detect_file` reads a file of any length and format in blocks, level-matches it, hears it
with a little silence at both edges (so a recording of the word alone is found) through the detector's
stream (:func:`~twd_lab.detectors.base.detect_blocks`) and returns the JSON form ``twd-lab detect --json``
prints, optionally writing a chimed copy (never over the input), also block by block. The lab's own
functions (``detect_triggerword``, ``chime_on_activate``) stay in :mod:`twd_lab.detection`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from twd_lab.constants import DETECT_LEAD_S, DETECT_TAIL_S, SAMPLE_RATE
from twd_lab.detectors.base import Detector, FiringRule, Trigger, detect_blocks

PathLike = str | os.PathLike

__all__ = [
    "DETECTORS",
    "as_detector",
    "default_rule",
    "detect_file",
    "detector_kind",
    "embedding_detector_available",
    "fire",
    "load_detector",
    "needs_keras",
    "probabilities_and_times",
    "write_chimed",
]


DETECTORS = ("auto", "embedding", "lab")


def embedding_detector_available() -> bool:
    """True when the speech-embedding detector can run here: its packages and its bundled head."""
    import importlib.util

    from twd_lab.detectors.embedding import default_head_path

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
        raise ValueError(
            "model_path is a lab-network .keras file; it does not go with the speech-embedding detector"
        )
    return kind


def needs_keras(kind: str, *, head_path: PathLike | None = None) -> bool:
    """Whether loading this detector imports Keras (and so TensorFlow): always for the lab network; for
    the embedding detector only when its head has no matching NumPy copy (:mod:`twd_lab.detectors.numpy_head`)."""
    if kind != "embedding":
        return True
    from twd_lab.detectors.embedding import default_head_path
    from twd_lab.detectors.numpy_head import matches_keras_file

    return not matches_keras_file(head_path if head_path is not None else default_head_path())


def load_detector(
    kind: str = "auto", model_path: PathLike | None = None, *, head_path: PathLike | None = None
):
    """The detector ``twd-lab detect`` runs: ``(detector, kind)``.

    ``head_path``: a speech-embedding head to use instead of the shipped one (e.g. from
    :func:`twd_lab.personalize.personalize`); it selects the embedding detector.

    ``"embedding"``: :class:`~twd_lab.detectors.embedding.EmbeddingDetector` (frozen speech embeddings and
    a small head; far better on real voices, see the README's table). ``"lab"``: the lab network
    (:class:`~twd_lab.detectors.lab.LabDetector`), from ``model_path`` or the shipped ``assets/model.keras``. ``"auto"`` (default): the lab network when
    ``model_path`` is given, else the embedding detector when it can run here, else the lab network.
    """
    kind = detector_kind(kind, model_path, head_path=head_path)
    if kind == "embedding":
        from twd_lab.detectors.embedding import EmbeddingDetector

        return EmbeddingDetector.load(head_path), kind
    return as_detector(model_path), kind


def as_detector(model=None) -> Detector:
    """``model`` as a :class:`~twd_lab.detectors.base.Detector`: a Detector as it is; a Keras model of the
    lab network, a ``.keras`` path or ``None`` (the shipped model) as a
    :class:`~twd_lab.detectors.lab.LabDetector`."""
    if isinstance(model, Detector):
        return model
    from twd_lab.detectors.lab import LabDetector

    return LabDetector(model)


def probabilities_and_times(detector, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A detector's probabilities for level-matched 44.1 kHz ``audio`` and when each step is decided (s):
    :meth:`Detector.hear <twd_lab.detectors.base.Detector.hear>` (a Keras model: the lab network)."""
    return as_detector(detector).hear(audio)


def default_rule(detector) -> tuple[float, int, int]:
    """A detector's own ``(threshold, patience, refractory)``, the refractory in its own steps."""
    r = as_detector(detector).rule
    return r.threshold, r.patience, r.refractory


def fire(probs, times_s, threshold: float, patience: int, refractory: int) -> list[Trigger]:
    """Where a detector with these probabilities (decided at ``times_s``) fires, by
    :func:`twd_lab.metrics.find_triggers`: ``[Trigger(time_s, score), ...]``."""
    return FiringRule(threshold, patience, refractory).fire(probs, times_s)


def write_chimed(
    path: PathLike,
    fired: list[Trigger],
    out: PathLike,
    *,
    tail_s: float = 0.0,
    overwrite: bool = False,
    chime=None,
) -> Path:
    """Write ``path``'s audio (44.1 kHz mono, 16-bit) with the chime added at each trigger to ``out``,
    block by block (memory does not grow with the file), with ``tail_s`` seconds of silence after it."""
    import soundfile as sf

    from twd_lab.decoding import read_blocks
    from twd_lab.detection import check_new_file, load_chime

    target = check_new_file(out, source=path, overwrite=overwrite)
    bell = load_chime(chime)
    starts = [round(t.time_s * SAMPLE_RATE) for t in fired]

    def blocks():
        yield from read_blocks(path)
        if tail_s > 0:
            yield np.zeros(round(tail_s * SAMPLE_RATE), np.float32)

    with (
        open(target, "wb" if overwrite else "xb") as f,
        sf.SoundFile(f, "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV") as w,
    ):
        at = 0
        for block in blocks():
            x = block.copy()
            for s in starts:  # the part of each chime that falls in this block
                a, b = max(s, at), min(s + bell.size, at + x.size)
                if a < b:
                    x[a - at : b - at] += bell[a - s : b - s]
            np.clip(x, -1.0, 1.0, out=x)
            w.write(np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16))
            at += x.size
    return target


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
    """Detect in one audio file: ``{"file": str, "duration_s": float, "triggers": [{"time_s", "score"}, ...]}``.

    The form ``twd-lab detect --json`` prints. ``model``: any :class:`~twd_lab.detectors.base.Detector`
    (see :func:`load_detector`), or a lab-network Keras model (None: the shipped one).
    ``threshold``, ``patience`` and ``refractory`` (in the detector's own output steps) default to the
    detector's own rule. With ``chime_out`` the chimed audio is written there too (see
    :func:`chime_on_activate`; checked before any work is done).

    The file is read in blocks and streamed (:func:`~twd_lab.detectors.base.detect_blocks`), so memory does
    not grow with its length. The detector hears it with ``lead_s`` seconds of silence before it and
    ``tail_s`` after it (0 and 0 to hear it bare), so a word said right at the start or the end of a file
    is found. Times are seconds from the file's start; a word at its very end fires up to ``tail_s``
    after the end, and the chimed copy is then that much longer, so the chime is heard.
    """
    from twd_lab.detection import check_new_file

    if chime_out is not None:
        check_new_file(chime_out, source=path, overwrite=overwrite)
    detector = as_detector(model)
    rule = detector.rule.with_overrides(threshold, patience, refractory)
    result = detect_blocks(detector, path, rule=rule, lead_s=lead_s, tail_s=tail_s)
    fired = [Trigger(t["time_s"], t["score"]) for t in result["triggers"]]
    if chime_out is not None:
        late = any(t.time_s >= result["duration_s"] for t in fired)  # room for a chime after the end
        write_chimed(path, fired, chime_out, tail_s=tail_s if late else 0.0, overwrite=overwrite)
    return {"file": str(path), **result}
