"""The speech-embedding detector at run time: frozen speech embeddings and a small head, as a
:class:`~twd_lab.detectors.base.Detector` (one probability every 80 ms, its own firing rule).

Every 80 ms it looks at the last ``history`` embeddings (16: about 2 s of audio,
:mod:`twd_lab.detectors.speech_embedding`) and says how likely it is that "activate" has just ended. Its
stream (:class:`~twd_lab.detectors.embedding_stream.EmbeddingStream`) is what every pass runs, files
included; :meth:`EmbeddingDetector.probabilities` and :meth:`EmbeddingDetector.triggers` are the clip pass
that training and calibration use (one call per clip, as the head was trained).
Training the head lives in :mod:`twd_lab.embedding_detector`; personalising it in :mod:`twd_lab.personalize`.

    det = EmbeddingDetector.load()                    # assets/embedding_head.keras (+ .json settings)
    probs, times = det.hear(preprocess_audio("recording.wav"))
    fired = det.detect(preprocess_audio("recording.wav"))   # [Trigger(time_s, score), ...]

Keras is imported only when a head without a NumPy copy is loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE
from twd_lab.detectors.base import Detector, FiringRule
from twd_lab.detectors.speech_embedding import (
    EMBEDDING_DIM,
    EMBEDDING_STEP_S,
    embeddings,
    step_end_s,
    step_times,
)

#: Embedding steps the head reads: 16 x 80 ms, plus the first window's 0.78 s, covers ~2 s of audio.
HISTORY = 16

#: Default firing rule: threshold, consecutive steps above it, and seconds before it may fire again
#: (chosen on held-out TTS voices: two steps above 0.95 halve the false accepts of one, for ~1% recall).
THRESHOLD = 0.95
PATIENCE = 2
REFRACTORY_S = 1.0

HEAD_NAME = "embedding_head.keras"
CONFIG_NAME = "embedding_head.json"
#: The command that made the bundled head (its ``.json`` notes hold the same; README "Rebuilding what ships").
SHIPPED_HEAD_COMMAND = (
    "python tools/train_embedding_detector.py --talk 2500 --talk-words 400 --talk-mining 2500 --confusables 300 "
    "--noisy 600 --noisy-mining 600 --mining-rounds 5 --out assets/embedding_head.keras"
)


def history_windows(emb: np.ndarray, history: int = HISTORY) -> np.ndarray:
    """One window of the last ``history`` embeddings per step: ``(n_steps, history, 96)`` float32.

    The first steps have less past; it is filled by repeating the first embedding, so every step gets
    a probability. A view (no copy) of the padded sequence.
    """
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[1] != EMBEDDING_DIM:
        raise ValueError(f"emb must have shape (n_steps, {EMBEDDING_DIM}), got {emb.shape}")
    if len(emb) == 0:
        return np.zeros((0, history, EMBEDDING_DIM), np.float32)
    return np.lib.stride_tricks.sliding_window_view(pad_history(emb, history), (history, EMBEDDING_DIM))[:, 0]


def pad_history(emb: np.ndarray, history: int = HISTORY) -> np.ndarray:
    """``emb (n_steps, 96)`` with ``history - 1`` copies of its first embedding in front, so that its
    first step has a full window of past; ``(n_steps + history - 1, 96)``."""
    return np.concatenate([np.repeat(emb[:1], history - 1, axis=0), emb])


def predict_windows(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Probabilities ``(N,)`` of windows ``X (N, history, 96)`` in inference mode."""
    import keras

    out = np.empty(len(X), np.float32)
    for i in range(0, len(X), batch_size):
        chunk = np.ascontiguousarray(X[i : i + batch_size])
        out[i : i + len(chunk)] = keras.ops.convert_to_numpy(model(chunk, training=False)).reshape(-1)
    return out


@dataclass
class DetectorConfig:
    """What a saved head needs beside its weights (``embedding_head.json``)."""

    history: int = HISTORY
    threshold: float = THRESHOLD
    patience: int = PATIENCE
    refractory_s: float = REFRACTORY_S
    step_s: float = EMBEDDING_STEP_S
    #: File beside the head with fine-tuned weights for the speech embedding's top layers (the head was
    #: trained on that front end's embeddings, :mod:`twd_lab.front_end_tuning`); None: the model as shipped.
    front_end: str | None = None
    notes: dict | None = None


#: How a head's front-end file is named beside it: ``embedding_head.keras`` -> ``embedding_head.front.npz``.
FRONT_END_SUFFIX = ".front.npz"


#: What a file given as a head may be instead (the lab network's .keras goes with --model).
_NOT_A_HEAD = "; is it a lab-network model? Those go with --model, heads with --head"


def _read_config(path: Path) -> DetectorConfig:
    """A head's settings (the ``.json`` beside it), or ``ValueError`` naming the file and what is wrong."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"head: {path} is not valid JSON ({err})") from None
    kind = type(raw).__name__
    if kind != "dict":  # a file's content, not an argument: a bad value
        raise ValueError(f"head: {path} must hold a JSON object of settings, got a {kind}")
    known = set(DetectorConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(
            f"head: {path} has settings a speech-embedding head does not have: {', '.join(unknown[:4])}"
            f"{f' and {len(unknown) - 4} more' if len(unknown) > 4 else ''} "
            f"(expected some of {', '.join(sorted(known))}){_NOT_A_HEAD}"
        )
    return DetectorConfig(**raw)


def default_head_path() -> Path:
    """``assets/embedding_head.keras`` of the installed package (it may not exist)."""
    from twd_lab.assets_index import bundled_dir

    return bundled_dir() / HEAD_NAME


class EmbeddingDetector(Detector):
    """Speech embeddings + a trained head: per-step probabilities and trigger times for any audio."""

    kind = "embedding"
    title = "the speech-embedding detector"

    def __init__(
        self, head, config: DetectorConfig | None = None, *, fast_head=None, head_path=None, front_end=None
    ):
        """``head``: the Keras head (None: loaded from ``head_path`` when first needed). ``fast_head``: the
        same head in NumPy (:class:`twd_lab.detectors.numpy_head.NumpyHead`), used for probabilities when given.
        ``front_end``: the ``.npz`` of fine-tuned embedding weights the head was trained on (None: the
        embedding as shipped); :meth:`load` finds it from the settings' ``front_end``."""
        self._head = head
        self._head_path = None if head_path is None else Path(head_path)
        self.fast_head = fast_head
        self.config = config or DetectorConfig()
        self.front_end = None if front_end is None else Path(front_end)
        if self.front_end is not None and not self.front_end.is_file():
            raise FileNotFoundError(f"front_end: {self.front_end} is missing")

    @property
    def head(self):
        """The Keras head (loaded on first use when the detector runs its NumPy copy)."""
        if self._head is None:
            if self._head_path is None:
                raise ValueError("this detector has no head: give one, or a head_path to load it from")
            from twd_lab.models import load_keras_file

            head = load_keras_file(self._head_path, what="head", hint=_NOT_A_HEAD)
            expected = (self.config.history, EMBEDDING_DIM)
            if tuple(head.input_shape[1:]) != expected:
                raise ValueError(
                    f"head: {self._head_path} takes inputs of shape {tuple(head.input_shape[1:])}, not a "
                    f"speech-embedding head's {expected}{_NOT_A_HEAD}"
                )
            self._head = head
        return self._head

    @classmethod
    def load(cls, path: str | Path | None = None) -> EmbeddingDetector:
        """Load a head saved by :meth:`save` (default: the bundled ``assets/embedding_head.keras``);
        its settings are read from the ``.json`` beside it when there is one. When the ``.npz`` beside
        it matches (:mod:`twd_lab.detectors.numpy_head`), the head runs in NumPy and Keras is not even imported."""
        from twd_lab.detectors.numpy_head import NumpyHead

        if path is not None and not Path(path).is_file():  # a path the caller named: a typo, most likely
            what = "is a folder, not a .keras file" if Path(path).is_dir() else "does not exist"
            raise FileNotFoundError(f"embedding head {path} {what}")
        path = Path(path) if path is not None else default_head_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"the bundled embedding head {path} is missing; rebuild it with `{SHIPPED_HEAD_COMMAND}` "
                "(README: Rebuilding what ships)"
            )
        cfg_path = path.with_suffix(".json")
        config = _read_config(cfg_path) if cfg_path.is_file() else DetectorConfig()
        front_end = None
        if config.front_end is not None:
            front_end = path.parent / config.front_end
            if not front_end.is_file():
                raise FileNotFoundError(
                    f"head: {cfg_path} names the front end {config.front_end!r}, which is not beside it "
                    f"({front_end}); the head hears only the embeddings it was trained on"
                )
        fast = NumpyHead.load(path)
        if fast is not None:
            return cls(None, config, fast_head=fast, head_path=path, front_end=front_end)
        detector = cls(None, config, head_path=path, front_end=front_end)
        detector.head  # noqa: B018  (no NumPy copy: load the Keras head now, so a bad file fails here)
        return detector

    def save(self, path: str | Path) -> None:
        """Write the head (``.keras``), its settings (the same name with ``.json``) and, when the head is
        one ``build_head`` makes, its NumPy copy (``.npz``)."""
        import shutil

        from twd_lab.detectors.numpy_head import numpy_path, write_numpy_head

        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"path must end in .keras, got {path.name!r}")
        self.head.save(path)
        config = self.config
        if self.front_end is not None:  # the weights travel with the head, named after it
            front = path.with_name(path.stem + FRONT_END_SUFFIX)
            if front.resolve() != self.front_end.resolve():
                shutil.copyfile(self.front_end, front)
            config = replace(config, front_end=front.name)
        path.with_suffix(".json").write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
        try:
            write_numpy_head(self.head, path)
        except ValueError:  # a head of other layers runs in Keras only
            numpy_path(path).unlink(missing_ok=True)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities ``(N,)`` of windows ``(N, history, 96)``: the NumPy copy when there is one."""
        if self.fast_head is not None:
            return self.fast_head(windows)
        return predict_windows(self.head, windows)

    def probabilities_from_embeddings(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-step probabilities and step end times (s) of precomputed embeddings ``(n_steps, 96)``."""
        probs = self.predict(history_windows(emb, self.config.history))
        return probs, step_times(len(emb))

    def probabilities(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-step probabilities ``(n_steps,)`` of mono audio, and when each step ends (s): the clip pass,
        one call on the whole clip as in training (files and streams run :meth:`hear`, the stream).

        The head was trained on clips level-matched to -20 dBFS, as the lab network was: give it audio
        from :func:`twd_lab.detection.preprocess_audio`, as ``twd-lab detect`` does.
        """
        return self.probabilities_from_embeddings(self.embed(samples, sample_rate))

    def embed(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """The embeddings ``(n_steps, 96)`` this detector's head hears of mono audio: through its own
        front end (:attr:`front_end`; the embedding as shipped when None)."""
        return embeddings(samples, sample_rate, front_end=self.front_end)[0]

    def trigger_steps(self, probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Steps where the detector fires (:func:`twd_lab.metrics.find_triggers`, refractory in steps)."""
        from twd_lab.metrics import find_triggers

        c = self.config
        threshold = c.threshold if threshold is None else threshold
        return find_triggers(probs, threshold, c.patience, self.refractory_steps)

    # -- the Detector interface --------------------------------------------------------------------

    @property
    def step_s(self) -> float:
        return float(self.config.step_s)

    @property
    def rule(self) -> FiringRule:
        c = self.config
        return FiringRule(float(c.threshold), int(c.patience), self.refractory_steps)

    def step_times(self, steps) -> np.ndarray:
        return step_end_s(steps)

    def stream(self, *, gain_db: float = 0.0, sample_rate: int = SAMPLE_RATE):
        from twd_lab.detectors.embedding_stream import EmbeddingStream

        return EmbeddingStream(self, gain_db=gain_db, sample_rate=sample_rate)

    def predict_few(self, windows: np.ndarray) -> np.ndarray:
        """:meth:`predict` for the few windows of a stream's chunk: the NumPy copy when there is one (no
        TensorFlow at all); else Keras's compiled ``predict_on_batch``, 0.3 ms against 7 ms for a plain
        call, the same numbers to 1e-9."""
        if self.fast_head is not None:
            return self.fast_head(windows)
        out = self.head.predict_on_batch(np.ascontiguousarray(windows))
        return np.asarray(out, np.float32).reshape(-1)

    def warm_up(self) -> None:
        """Build the onnxruntime sessions and the head's compiled call now, not on the first chunk."""
        from twd_lab.detectors.speech_embedding import (
            MEL_WINDOW,
            N_MELS,
            WINDOW_FRAMES,
            embed_frames,
            mel_frames,
        )

        mel_frames(np.zeros(MEL_WINDOW, np.float32))
        embed_frames(np.zeros((WINDOW_FRAMES, N_MELS), np.float32), self.front_end)
        if self.fast_head is None:
            for n in (1, 2, 3):  # Keras traces its compiled predict per batch shape, then generalises
                self.predict_few(np.zeros((n, self.config.history, EMBEDDING_DIM), np.float32))

    def step_targets(self, word_ends_s, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The head's training targets (:func:`twd_lab.embedding_detector.step_labels` at the steps' end times):
        1 for 0.3-0.8 s after a word's end, weight 0 around it, 0 elsewhere."""
        from twd_lab.embedding_detector import step_labels

        return step_labels(self.step_times(np.arange(int(n_steps))), word_ends_s)

    @property
    def refractory_steps(self) -> int:
        """The refractory time in embedding steps (at least 1)."""
        return max(1, round(self.config.refractory_s / self.config.step_s))

    def triggers(self, samples: np.ndarray, sample_rate: int, threshold: float | None = None) -> list:
        """Where the detector fires: ``[Trigger(time_s, score), ...]`` as :func:`twd_lab.detection.triggers`
        gives them (so :func:`twd_lab.detection.chime_at` takes them as they are). ``time_s`` is the end
        of the step that fired, 0.3-0.8 s after the word (see ``POSITIVE_S``)."""
        probs, _ = self.probabilities(samples, sample_rate)
        steps = self.trigger_steps(probs, threshold)
        return step_triggers(steps, probs[steps])


def step_triggers(steps, scores) -> list:
    """``[Trigger(time_s, score), ...]`` for firing embedding ``steps`` (indices from the start) with their
    ``scores``: ``time_s`` is the end of the step (:func:`twd_lab.detectors.base.trigger_records`)."""
    from twd_lab.detectors.base import trigger_records

    return trigger_records(step_end_s(steps), scores)
