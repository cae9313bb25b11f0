"""A second detector family: frozen speech embeddings (:mod:`twd_lab.embedding`) and a small Keras head.

The lab network learns its features from our synthetic voices only; this detector borrows features
from a model that has heard many real speakers and learns just a small classifier on top, from the same
synthetic assets. Every 80 ms it looks at the last ``history`` embeddings (16: about 2 s of audio) and
says how likely it is that "activate" has just ended.

Training, as a lesson:

1. Synthesize 10 s clips from the bundled *train* voices (:func:`twd_lab.synthesis.synthesize_example`,
   with word augmentation), and turn each into embeddings once (:func:`embedded_examples`).
2. Label every step (:func:`step_labels`): 1 when the step ends 0.3-0.8 s after an "activate" ends (see
   ``POSITIVE_S`` for why not at once), 0 far from any "activate", and *ignored* (weight 0) around it,
   where either answer is acceptable to the event metric.
3. Fit small heads on windows of ``history`` steps with different seeds and average them
   (:func:`fit_heads`), with one round of hard negatives: windows of negative-only audio where they
   fired, fed back with extra weight (:func:`hard_negative_windows`).
   ``tools/train_embedding_detector.py`` runs all of it and writes ``assets/embedding_head.keras``.

Use it::

    audio = preprocess_audio("recording.wav")         # twd_lab.detection: 44.1 kHz mono, -20 dBFS
    det = EmbeddingDetector.load()                    # assets/embedding_head.keras (+ .json settings)
    probs, times = det.probabilities(audio, 44_100)   # one probability every 80 ms
    fired = det.triggers(audio, 44_100)               # [Trigger(time_s, score), ...]

Keras is imported only when a head is built, trained or loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE
from twd_lab.embedding import EMBEDDING_DIM, EMBEDDING_STEP_S, embeddings, step_end_s, step_times
from twd_lab.rng import RngLike, as_generator

#: Embedding steps the head reads: 16 x 80 ms, plus the first window's 0.78 s, covers ~2 s of audio.
HISTORY = 16
#: A step is positive when it ends this many seconds after an "activate" clip ends. Not at once: our TTS
#: clips are trimmed to the word, but a recorded clip ends with a little silence and room tail (0-0.4 s
#: in the real recordings), so a head taught to fire right at the word fires 0.2-0.4 s *before* a real
#: clip's end, outside the event window (-0.2 ... +1.2 s), and counts as a miss plus a false accept.
#: Firing 0.3-0.8 s after the word costs that much latency and lands inside the window either way.
POSITIVE_S = (0.3, 0.8)
#: Steps ending in this span around a word end (other than the positive span) carry no loss.
IGNORE_S = (-0.2, 1.0)
#: Default firing rule: threshold, consecutive steps above it, and seconds before it may fire again
#: (chosen on held-out TTS voices: two steps above 0.95 halve the false accepts of one, for ~1% recall).
THRESHOLD = 0.95
PATIENCE = 2
REFRACTORY_S = 1.0

HEAD_NAME = "embedding_head.keras"
CONFIG_NAME = "embedding_head.json"


# --- labels and windows ----------------------------------------------------------------------------


def step_labels(
    times_s: np.ndarray,
    word_ends_s: Sequence[float],
    *,
    positive_s: tuple[float, float] = POSITIVE_S,
    ignore_s: tuple[float, float] = IGNORE_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step labels and loss weights for steps ending at ``times_s`` in audio whose words end at
    ``word_ends_s``.

    Returns ``labels`` and ``weights`` (float32, shape of ``times_s``): 1/1 inside a positive span,
    0/0 in the ignored span around it, 0/1 elsewhere.

    >>> step_labels(np.array([1.0, 2.0, 2.3, 2.8, 3.1]), [2.0], positive_s=(0.0, 0.5))
    (array([0., 1., 1., 0., 0.], dtype=float32), array([1., 1., 1., 0., 1.], dtype=float32))
    """
    t = np.asarray(times_s, dtype=np.float64)
    labels = np.zeros(t.shape, np.float32)
    weights = np.ones(t.shape, np.float32)
    for e in word_ends_s:
        d = t - float(e)
        weights[(d >= ignore_s[0]) & (d <= ignore_s[1])] = 0.0
    for e in word_ends_s:
        d = t - float(e)
        pos = (d >= positive_s[0]) & (d <= positive_s[1])
        labels[pos] = 1.0
        weights[pos] = 1.0
    return labels, weights


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
    padded = np.concatenate([np.repeat(emb[:1], history - 1, axis=0), emb])
    return np.lib.stride_tricks.sliding_window_view(padded, (history, EMBEDDING_DIM))[:, 0]


# --- training data ---------------------------------------------------------------------------------


@dataclass
class EmbeddedClips:
    """Synthesized clips, kept only as embeddings: ``emb`` (m, n_steps, 96) and each clip's word ends."""

    emb: np.ndarray
    word_ends_s: list[list[float]]

    def save(self, path: str | Path) -> None:
        ends = np.array([json.dumps(e) for e in self.word_ends_s])
        np.savez(path, emb=self.emb, word_ends=ends)

    @classmethod
    def load(cls, path: str | Path) -> EmbeddedClips:
        with np.load(path) as f:
            return cls(f["emb"], [json.loads(str(s)) for s in f["word_ends"]])

    def __add__(self, other: EmbeddedClips) -> EmbeddedClips:
        return EmbeddedClips(np.concatenate([self.emb, other.emb]), self.word_ends_s + other.word_ends_s)


def embedded_examples(
    raw,
    n: int,
    *,
    rng: RngLike = None,
    augment: bool = True,
    n_activates: int | None = None,
    progress: bool = False,
) -> EmbeddedClips:
    """Synthesize ``n`` lab-style 10 s clips and keep their embeddings.

    ``raw``: ``(activates, negatives, backgrounds)`` float arrays at 44.1 kHz, as
    ``twd_lab.audio.load_raw_audio(path, as_arrays=True)`` returns them. With ``augment``, words go
    through :class:`twd_lab.augment.WordAugmenter` and backgrounds through
    :class:`twd_lab.augment.BackgroundAugmenter`. ``n_activates=0`` gives negative-only audio.
    """
    from twd_lab.synthesis import synthesize_example

    rng = as_generator(rng)
    activates, negatives, backgrounds = raw
    word_aug = bg_aug = None
    if augment:
        from twd_lab.augment import BackgroundAugmenter, WordAugmenter

        word_aug, bg_aug = WordAugmenter(), BackgroundAugmenter()
    items = range(int(n))
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="clips", unit="clip")
    embs, ends = [], []
    for _ in items:
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        if bg_aug is not None:
            bg = bg_aug(bg, rng)
        ex = synthesize_example(bg, activates, negatives, rng=rng, augment=word_aug, n_activates=n_activates)
        embs.append(embeddings(ex.audio, SAMPLE_RATE)[0])
        ends.append([seg[1] / 1000.0 for seg in ex.activate_segments])
    return EmbeddedClips(np.stack(embs) if embs else np.zeros((0, 0, EMBEDDING_DIM), np.float32), ends)


def embedded_noisy_examples(
    raw,
    n: int,
    *,
    rng: RngLike = None,
    snr_range_db: tuple[float, float] = (0.0, 20.0),
    kinds: Sequence[str] | None = None,
    talk: tuple[Sequence[str], Sequence] | None = None,
    p_talk: float = 0.5,
    progress: bool = False,
) -> EmbeddedClips:
    """``n`` lab-style 10 s clips whose words are said over loud generated noise, kept as embeddings.

    As :func:`embedded_examples` with augmentation, but the background is a fresh
    :func:`twd_lab.noise.make_background` of a random kind (default: every kind; babble made from the
    ``raw`` negatives) set ``snr_range_db`` below the words' -20 dBFS, instead of a stored background 20 dB
    down: the lab's mix is too quiet to teach a detector to hear a word in a kitchen or a crowd. With
    ``talk`` (``(sentences, voices)`` of :mod:`twd_lab.talk`), a share ``p_talk`` of the backgrounds is a
    crowd of talkers instead (:func:`twd_lab.talk.talk_clip` in its babble mode): a word said over other
    people talking must still fire, though talk alone must not.
    """
    from twd_lab import noise
    from twd_lab.augment import WordAugmenter
    from twd_lab.synthesis import synthesize_example

    rng = as_generator(rng)
    activates, negatives, _ = raw
    kinds = tuple(noise.KINDS if kinds is None else kinds)
    word_aug = WordAugmenter()
    items = range(int(n))
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="noisy clips", unit="clip")
    embs, ends = [], []
    for _ in items:
        level_dbfs = -20.0 - float(rng.uniform(*snr_range_db))
        if talk is not None and rng.random() < p_talk:
            from twd_lab.talk import talk_clip

            crowd = talk_clip(*talk, rng=rng, mode="babble", background_p=0.0).audio
            bg = noise.set_level(crowd, level_dbfs)
        else:
            kind = kinds[int(rng.integers(len(kinds)))]
            bg = noise.make_background(
                kind, rng=rng, sample_rate=SAMPLE_RATE, level_dbfs=level_dbfs, words=negatives
            )
        ex = synthesize_example(bg, activates, negatives, rng=rng, augment=word_aug, background_gain_db=0.0)
        embs.append(embeddings(ex.audio, SAMPLE_RATE)[0])
        ends.append([seg[1] / 1000.0 for seg in ex.activate_segments])
    return EmbeddedClips(np.stack(embs) if embs else np.zeros((0, 0, EMBEDDING_DIM), np.float32), ends)


def embedded_talk(
    sentences: Sequence[str],
    voices: Sequence,
    n: int,
    *,
    rng: RngLike = None,
    backgrounds: Sequence[np.ndarray] = (),
    activates: Sequence[np.ndarray] = (),
    max_activates: int = 0,
    augment_p: float = 0.5,
    progress: bool = False,
) -> EmbeddedClips:
    """``n`` 10 s clips of synthetic talk (:func:`twd_lab.talk.talk_clip`), kept as embeddings.

    Each clip says 0 to ``max_activates`` of ``activates`` between its sentences (0: talk only, every
    step a negative); a share ``augment_p`` of the clips goes through
    :class:`twd_lab.augment.WordAugmenter` utterance by utterance.
    """
    from twd_lab.augment import WordAugmenter
    from twd_lab.talk import talk_clip

    rng = as_generator(rng)
    word_aug = WordAugmenter()
    items = range(int(n))
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="talk clips", unit="clip")
    embs, ends = [], []
    for _ in items:
        clip = talk_clip(
            sentences,
            voices,
            rng=rng,
            backgrounds=backgrounds,
            activates=activates,
            n_activates=int(rng.integers(0, max_activates + 1)) if max_activates else 0,
            augment=word_aug if rng.random() < augment_p else None,
        )
        embs.append(embeddings(clip.audio, SAMPLE_RATE)[0])
        ends.append(list(clip.word_ends_s))
    return EmbeddedClips(np.stack(embs) if embs else np.zeros((0, 0, EMBEDDING_DIM), np.float32), ends)


def training_arrays(
    clips: EmbeddedClips,
    *,
    history: int = HISTORY,
    positive_s: tuple[float, float] = POSITIVE_S,
    ignore_s: tuple[float, float] = IGNORE_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows ``X (N, history, 96)``, labels ``y (N,)`` and weights ``w (N,)`` of every step with weight > 0."""
    xs, ys, ws = [], [], []
    for emb, ends in zip(clips.emb, clips.word_ends_s):
        labels, weights = step_labels(step_times(len(emb)), ends, positive_s=positive_s, ignore_s=ignore_s)
        keep = weights > 0
        xs.append(history_windows(emb, history)[keep])
        ys.append(labels[keep])
        ws.append(weights[keep])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


# --- the head --------------------------------------------------------------------------------------


def build_head(
    history: int = HISTORY,
    *,
    units: int = 32,
    layers: int = 1,
    dropout: float = 0.3,
    input_dropout: float = 0.0,
):
    """The head: ``(history, 96)`` embeddings -> [Dropout(input_dropout)] -> Flatten -> ``layers`` x (Dense
    -> LayerNorm -> ReLU -> Dropout) -> Dense(1, sigmoid). 49,281 parameters with the defaults."""
    import keras

    model = keras.Sequential(name="embedding_head")
    model.add(keras.Input((history, EMBEDDING_DIM)))
    if input_dropout > 0:
        model.add(keras.layers.Dropout(input_dropout))
    model.add(keras.layers.Flatten())
    for _ in range(layers):
        model.add(keras.layers.Dense(units))
        model.add(keras.layers.LayerNormalization())
        model.add(keras.layers.ReLU())
        model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    return model


def average_heads(heads: Sequence):
    """One model whose output is the mean of the ``heads``' outputs (same input shape): an ensemble of
    heads trained with different seeds, which varies much less from run to run than any one of them.

    The members are copied without their optimizers, so a saved ensemble holds only its weights.
    """
    import keras

    members = []
    for i, head in enumerate(heads):
        # from_config, not clone_model: a clone of a compiled Sequential keeps its optimizer
        copy = head.__class__.from_config(head.get_config())
        copy.set_weights(head.get_weights())
        copy.name = f"head_{i}"
        members.append(copy)
    if len(members) == 1:
        return members[0]
    inputs = keras.Input(tuple(members[0].inputs[0].shape[1:]))
    outputs = keras.layers.Average(name="mean")([m(inputs) for m in members])
    return keras.Model(inputs, outputs, name="embedding_heads")


def train_head(
    model,
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    balance: bool = True,
    seed: int = 0,
    verbose: int = 0,
):
    """Fit ``model`` (from :func:`build_head`) with Adam and binary cross-entropy; returns the History.

    ``balance`` scales the weights so positives and negatives carry the same total weight (positives are
    a few percent of the steps).
    """
    import keras

    keras.utils.set_random_seed(int(seed))
    w = np.ones(len(y), np.float32) if w is None else np.asarray(w, np.float32).copy()
    if balance:
        pos = y > 0.5
        if pos.any() and (~pos).any():
            w[pos] *= w[~pos].sum() / w[pos].sum()
        w *= len(w) / w.sum()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
    )
    return model.fit(
        X,
        y.astype(np.float32),
        sample_weight=w,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=verbose,
    )


def predict_windows(model, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Probabilities ``(N,)`` of windows ``X (N, history, 96)`` in inference mode."""
    import keras

    out = np.empty(len(X), np.float32)
    for i in range(0, len(X), batch_size):
        chunk = np.ascontiguousarray(X[i : i + batch_size])
        out[i : i + len(chunk)] = keras.ops.convert_to_numpy(model(chunk, training=False)).reshape(-1)
    return out


def hard_negative_windows(
    model, clips: EmbeddedClips, *, history: int = HISTORY, threshold: float = 0.2
) -> np.ndarray:
    """Windows of negative-only ``clips`` (no words in them) on which ``model`` says more than
    ``threshold``: the false accepts to feed back into training."""
    X = np.concatenate([history_windows(e, history) for e in clips.emb])
    return X[predict_windows(model, X) > threshold]


def fit_heads(
    clips: EmbeddedClips,
    negative_clips: EmbeddedClips | None = None,
    *,
    members: int = 3,
    history: int = HISTORY,
    units: int = 32,
    layers: int = 1,
    dropout: float = 0.3,
    input_dropout: float = 0.0,
    positive_s: tuple[float, float] = POSITIVE_S,
    ignore_s: tuple[float, float] = IGNORE_S,
    epochs: int = 10,
    hard_negative_threshold: float = 0.2,
    hard_negative_weight: float = 3.0,
    mining_rounds: int = 1,
    seed: int = 0,
    verbose: int = 0,
):
    """Train ``members`` heads (seeds ``seed``, ``seed + 1``, ...) on ``clips`` and average them.

    With ``negative_clips`` (audio without the word), ``mining_rounds`` rounds of hard-negative mining
    follow: the windows where the averaged heads say more than ``hard_negative_threshold`` are added as
    negatives with weight ``hard_negative_weight``, and each head is fine-tuned for half the epochs at a
    lower learning rate. Returns ``(model, info)``; ``info`` counts the windows used.
    """
    X, y, w = training_arrays(clips, history=history, positive_s=positive_s, ignore_s=ignore_s)
    heads = []
    for k in range(int(members)):
        head = build_head(history, units=units, layers=layers, dropout=dropout, input_dropout=input_dropout)
        train_head(head, X, y, w, epochs=epochs, seed=seed + k, verbose=verbose)
        heads.append(head)
    info = {"windows": len(y), "positive_windows": int(y.sum()), "hard_negative_windows": 0}
    if negative_clips is not None and len(negative_clips.emb):
        # Mycroft Precise's incremental training: feed the firings back, retrain, and look again
        for _ in range(int(mining_rounds)):
            hard = hard_negative_windows(
                average_heads(heads), negative_clips, history=history, threshold=hard_negative_threshold
            )
            info["hard_negative_windows"] += len(hard)
            if not len(hard):
                break
            X = np.concatenate([X, hard])
            y = np.concatenate([y, np.zeros(len(hard), np.float32)])
            w = np.concatenate([w, np.full(len(hard), hard_negative_weight, np.float32)])
            for k, head in enumerate(heads):
                train_head(
                    head,
                    X,
                    y,
                    w,
                    epochs=max(2, epochs // 2),
                    learning_rate=3e-4,
                    seed=seed + k,
                    verbose=verbose,
                )
    return average_heads(heads), info


# --- the detector ----------------------------------------------------------------------------------


@dataclass
class DetectorConfig:
    """What a saved head needs beside its weights (``embedding_head.json``)."""

    history: int = HISTORY
    threshold: float = THRESHOLD
    patience: int = PATIENCE
    refractory_s: float = REFRACTORY_S
    step_s: float = EMBEDDING_STEP_S
    notes: dict | None = None


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


class EmbeddingDetector:
    """Speech embeddings + a trained head: per-step probabilities and trigger times for any audio."""

    def __init__(self, head, config: DetectorConfig | None = None, *, fast_head=None, head_path=None):
        """``head``: the Keras head (None: loaded from ``head_path`` when first needed). ``fast_head``: the
        same head in NumPy (:class:`twd_lab.numpy_head.NumpyHead`), used for probabilities when given."""
        self._head = head
        self._head_path = None if head_path is None else Path(head_path)
        self.fast_head = fast_head
        self.config = config or DetectorConfig()

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
        it matches (:mod:`twd_lab.numpy_head`), the head runs in NumPy and Keras is not even imported."""
        from twd_lab.numpy_head import NumpyHead

        path = Path(path) if path is not None else default_head_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"embedding head {path} is missing; train one with "
                "`python tools/train_embedding_detector.py --out assets/embedding_head.keras`"
            )
        cfg_path = path.with_suffix(".json")
        config = _read_config(cfg_path) if cfg_path.is_file() else DetectorConfig()
        fast = NumpyHead.load(path)
        if fast is not None:
            return cls(None, config, fast_head=fast, head_path=path)
        detector = cls(None, config, head_path=path)
        detector.head  # noqa: B018  (no NumPy copy: load the Keras head now, so a bad file fails here)
        return detector

    def save(self, path: str | Path) -> None:
        """Write the head (``.keras``), its settings (the same name with ``.json``) and, when the head is
        one ``build_head`` makes, its NumPy copy (``.npz``)."""
        from twd_lab.numpy_head import numpy_path, write_numpy_head

        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"path must end in .keras, got {path.name!r}")
        self.head.save(path)
        path.with_suffix(".json").write_text(
            json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8"
        )
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
        """Per-step probabilities ``(n_steps,)`` of mono audio, and when each step ends (s).

        The head was trained on clips level-matched to -20 dBFS, as the lab network was: give it audio
        from :func:`twd_lab.detection.preprocess_audio`, as ``twd-lab detect`` does.
        """
        return self.probabilities_from_embeddings(embeddings(samples, sample_rate)[0])

    def trigger_steps(self, probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """Steps where the detector fires (:func:`twd_lab.metrics.find_triggers`, refractory in steps)."""
        from twd_lab.metrics import find_triggers

        c = self.config
        threshold = c.threshold if threshold is None else threshold
        return find_triggers(probs, threshold, c.patience, self.refractory_steps)

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
    ``scores``: ``time_s`` is the end of the step (:func:`twd_lab.inference.trigger_records`)."""
    from twd_lab.inference import trigger_records

    return trigger_records(step_end_s(steps), scores)
