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
   (:func:`fit_heads`), with rounds of hard negatives: windows of negative-only audio where they
   fired, fed back with extra weight (:func:`hard_negative_rows`). The windows are rows of one
   :class:`WindowTable` over the embeddings, gathered a batch at a time, never copied whole.
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
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE

# the runtime detector lives in twd_lab.detectors.embedding; this module trains its head (the names stay here)
from twd_lab.detectors.embedding import (  # noqa: F401
    CONFIG_NAME,
    FRONT_END_SUFFIX,
    HEAD_NAME,
    HISTORY,
    PATIENCE,
    REFRACTORY_S,
    THRESHOLD,
    DetectorConfig,
    EmbeddingDetector,
    default_head_path,
    history_windows,
    pad_history,
    predict_windows,
    step_triggers,
)
from twd_lab.detectors.speech_embedding import EMBEDDING_DIM, embeddings, step_times
from twd_lab.rng import RngLike, as_generator

#: A step is positive when it ends this many seconds after an "activate" clip ends. Not at once: our TTS
#: clips are trimmed to the word, but a recorded clip ends with a little silence and room tail (0-0.4 s
#: in the real recordings), so a head taught to fire right at the word fires 0.2-0.4 s *before* a real
#: clip's end, outside the event window (-0.2 ... +1.2 s), and counts as a miss plus a false accept.
#: Firing 0.3-0.8 s after the word costs that much latency and lands inside the window either way.
POSITIVE_S = (0.3, 0.8)
#: Steps ending in this span around a word end (other than the positive span) carry no loss.
IGNORE_S = (-0.2, 1.0)
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


def _embed_each(n: int, make_clip, *, desc: str, progress: bool, features=None) -> EmbeddedClips:
    """``n`` clips from ``make_clip()`` -> ``(audio at 44.1 kHz, word ends in s)``, kept as embeddings, or
    as ``features(audio)`` when given (e.g. mel frames, :func:`clip_mel_frames`)."""
    items = range(int(n))
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=desc, unit="clip")
    embs, ends = [], []
    for _ in items:
        audio, word_ends = make_clip()
        embs.append(embeddings(audio, SAMPLE_RATE)[0] if features is None else features(audio))
        ends.append(list(word_ends))
    return EmbeddedClips(np.stack(embs) if embs else np.zeros((0, 0, EMBEDDING_DIM), np.float32), ends)


def embedded_examples(
    raw,
    n: int,
    *,
    rng: RngLike = None,
    augment: bool = True,
    n_activates: int | None = None,
    progress: bool = False,
    features=None,
) -> EmbeddedClips:
    """Synthesize ``n`` lab-style 10 s clips and keep their embeddings.

    ``raw``: ``(activates, negatives, backgrounds)`` float arrays at 44.1 kHz, as
    ``twd_lab.audio.load_raw_audio(path, as_arrays=True)`` returns them. With ``augment``, words go
    through :class:`twd_lab.augment.WordAugmenter` and backgrounds through
    :class:`twd_lab.augment.BackgroundAugmenter`. ``n_activates=0`` gives negative-only audio.
    ``features``: keep ``features(audio)`` of each clip instead of its embeddings (as in every generator
    here; :func:`clip_mel_frames` for tuning the front end).
    """
    from twd_lab.synthesis import synthesize_example

    rng = as_generator(rng)
    activates, negatives, backgrounds = raw
    word_aug = bg_aug = None
    if augment:
        from twd_lab.augment import BackgroundAugmenter, WordAugmenter

        word_aug, bg_aug = WordAugmenter(), BackgroundAugmenter()

    def make_clip():
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        if bg_aug is not None:
            bg = bg_aug(bg, rng)
        ex = synthesize_example(bg, activates, negatives, rng=rng, augment=word_aug, n_activates=n_activates)
        return ex.audio, [seg[1] / 1000.0 for seg in ex.activate_segments]

    return _embed_each(n, make_clip, desc="clips", progress=progress, features=features)


def embedded_noisy_examples(
    raw,
    n: int,
    *,
    rng: RngLike = None,
    snr_range_db: tuple[float, float] = (0.0, 20.0),
    kinds: Sequence[str] | None = None,
    talk: tuple[Sequence[str], Sequence] | None = None,
    p_talk: float = 0.5,
    p_diffuse: float = 0.0,
    n_activates: int | None = None,
    progress: bool = False,
    features=None,
) -> EmbeddedClips:
    """``n`` lab-style 10 s clips whose words are said over loud generated noise, kept as embeddings.

    As :func:`embedded_examples` with augmentation, but the background is a fresh
    :func:`twd_lab.noise.make_background` of a random kind (default: every kind; babble made from the
    ``raw`` negatives) set ``snr_range_db`` below the words' -20 dBFS, instead of a stored background 20 dB
    down: the lab's mix is too quiet to teach a detector to hear a word in a kitchen or a crowd. With
    ``talk`` (``(sentences, voices)`` of :mod:`twd_lab.talk`), a share ``p_talk`` of the backgrounds is a
    crowd of talkers instead (:func:`twd_lab.talk.talk_clip` in its babble mode): a word said over other
    people talking must still fire, though talk alone must not. A share ``p_diffuse`` of those crowds is
    a din of 4-8 talkers none of whom stands out (:func:`twd_lab.talk.crowd_clip`) rather than one talker
    over a few quieter ones. ``n_activates=0`` gives clips without the word (other words over the noise):
    negatives to mine.
    """
    from twd_lab import noise
    from twd_lab.augment import WordAugmenter
    from twd_lab.synthesis import synthesize_example

    rng = as_generator(rng)
    activates, negatives, _ = raw
    kinds = tuple(noise.KINDS if kinds is None else kinds)
    word_aug = WordAugmenter()

    def make_clip():
        level_dbfs = -20.0 - float(rng.uniform(*snr_range_db))
        if talk is not None and rng.random() < p_talk:
            from twd_lab.talk import crowd_clip, talk_clip

            if p_diffuse > 0 and rng.random() < p_diffuse:
                crowd = crowd_clip(*talk, rng=rng)
            else:
                crowd = talk_clip(*talk, rng=rng, mode="babble", background_p=0.0).audio
            bg = noise.set_level(crowd, level_dbfs)
        else:
            kind = kinds[int(rng.integers(len(kinds)))]
            bg = noise.make_background(
                kind, rng=rng, sample_rate=SAMPLE_RATE, level_dbfs=level_dbfs, words=negatives
            )
        ex = synthesize_example(
            bg,
            activates,
            negatives,
            rng=rng,
            augment=word_aug,
            background_gain_db=0.0,
            n_activates=n_activates,
        )
        return ex.audio, [seg[1] / 1000.0 for seg in ex.activate_segments]

    return _embed_each(n, make_clip, desc="noisy clips", progress=progress, features=features)


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
    features=None,
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

    def make_clip():
        clip = talk_clip(
            sentences,
            voices,
            rng=rng,
            backgrounds=backgrounds,
            activates=activates,
            n_activates=int(rng.integers(0, max_activates + 1)) if max_activates else 0,
            augment=word_aug if rng.random() < augment_p else None,
        )
        return clip.audio, clip.word_ends_s

    return _embed_each(n, make_clip, desc="talk clips", progress=progress, features=features)


def clip_mel_frames(audio: np.ndarray) -> np.ndarray:
    """Scaled mel frames ``(frames, 32)`` float16 of a 44.1 kHz clip: what :mod:`twd_lab.front_end_tuning`
    keeps of a clip (a ``features`` for the generators above)."""
    from twd_lab.detectors.speech_embedding import mel_frames, to_16k

    return mel_frames(to_16k(np.asarray(audio, np.float32), SAMPLE_RATE)).astype(np.float16)


class WindowTable:
    """The ``history``-step windows of some clips' embeddings, picked out by row without copying them.

    ``table[rows]`` gives windows ``(len(rows), history, 96)`` (a copy of just those); ``clip_rows(i)``
    the rows of clip ``i``, one per step, padded at its start as :func:`history_windows` pads. The table
    holds the embeddings once (each window would hold 16 of them), so hours of clips train in the memory
    of their embeddings.
    """

    def __init__(self, embs: Sequence[np.ndarray], history: int = HISTORY):
        self.history = int(history)
        for i, e in enumerate(embs):
            if np.ndim(e) != 2 or np.shape(e)[1] != EMBEDDING_DIM:
                raise ValueError(f"embs[{i}] must have shape (n_steps, {EMBEDDING_DIM}), got {np.shape(e)}")
        padded = [pad_history(e, history) for e in embs if len(e)]
        frames = np.concatenate(padded) if padded else np.zeros((history, EMBEDDING_DIM), np.float32)
        self._windows = np.lib.stride_tricks.sliding_window_view(
            np.ascontiguousarray(frames, dtype=np.float32), (history, EMBEDDING_DIM)
        )[:, 0]
        starts, row = [], 0
        for e in embs:
            starts.append(row)
            row += len(e) + history - 1 if len(e) else 0
        self._starts = np.array(starts, np.int64)
        self._lengths = np.array([len(e) for e in embs], np.int64)

    def clip_rows(self, start: int, stop: int | None = None) -> np.ndarray:
        """Rows of the windows of clip ``start`` (``(n_steps,)``, one per step), or of clips ``start``
        to ``stop - 1`` one after another."""
        stop = start + 1 if stop is None else stop
        parts = [self._starts[i] + np.arange(self._lengths[i]) for i in range(start, stop)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self._windows)

    def __getitem__(self, rows) -> np.ndarray:
        return np.ascontiguousarray(self._windows[rows])


def training_rows(
    table: WindowTable,
    clips: EmbeddedClips,
    *,
    positive_s: tuple[float, float] = POSITIVE_S,
    ignore_s: tuple[float, float] = IGNORE_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``table`` (whose first clips are ``clips``), labels ``y (N,)`` and weights ``w (N,)`` of
    every step with weight > 0."""
    rows, ys, ws = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)], [np.zeros(0, np.float32)]
    for i, (emb, ends) in enumerate(zip(clips.emb, clips.word_ends_s)):
        labels, weights = step_labels(step_times(len(emb)), ends, positive_s=positive_s, ignore_s=ignore_s)
        keep = weights > 0
        rows.append(table.clip_rows(i)[keep])
        ys.append(labels[keep])
        ws.append(weights[keep])
    return np.concatenate(rows), np.concatenate(ys), np.concatenate(ws)


def training_arrays(
    clips: EmbeddedClips,
    *,
    history: int = HISTORY,
    positive_s: tuple[float, float] = POSITIVE_S,
    ignore_s: tuple[float, float] = IGNORE_S,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows ``X (N, history, 96)``, labels ``y (N,)`` and weights ``w (N,)`` of every step with weight
    > 0, as arrays (16x the clips' memory: :func:`fit_heads` keeps rows of a :class:`WindowTable` instead)."""
    table = WindowTable(clips.emb, history)
    rows, y, w = training_rows(table, clips, positive_s=positive_s, ignore_s=ignore_s)
    return table[rows], y, w


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


def _window_batches(X, rows: np.ndarray, y: np.ndarray, w: np.ndarray, batch_size: int, seed: int):
    """A ``keras.utils.PyDataset`` of shuffled batches ``(X[rows[b]], y[b], w[b])``: the windows are
    gathered per batch, never all at once. Reshuffled each epoch from ``seed``."""
    import keras

    class WindowBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self._rng = np.random.default_rng(seed)
            self._order = self._rng.permutation(len(rows))

        def __len__(self):
            return math.ceil(len(rows) / batch_size)

        def __getitem__(self, i):
            b = self._order[i * batch_size : (i + 1) * batch_size]
            return X[rows[b]], y[b], w[b]

        def on_epoch_end(self):
            self._order = self._rng.permutation(len(rows))

    return WindowBatches()


def train_head(
    model,
    X,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    rows: np.ndarray | None = None,
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    balance: bool = True,
    seed: int = 0,
    verbose: int = 0,
):
    """Fit ``model`` (from :func:`build_head`) with Adam and binary cross-entropy; returns the History.

    ``X`` holds the windows: an array ``(N, history, 96)``, or with ``rows`` (N,) a :class:`WindowTable`
    they are picked from. Batches are gathered as they are needed, so the windows are never copied whole.
    ``balance`` scales the weights so positives and negatives carry the same total weight (positives are
    a few percent of the steps).
    """
    import keras

    y = np.asarray(y, np.float32)
    rows = np.arange(len(y)) if rows is None else np.asarray(rows, np.int64)
    if len(rows) != len(y):
        raise ValueError(f"rows and y must have the same length, got {len(rows)} and {len(y)}")
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
    batches = _window_batches(X, rows, y, w, int(batch_size), int(seed))
    return model.fit(batches, epochs=epochs, verbose=verbose)


def hard_negative_rows(
    model, table: WindowTable, rows: np.ndarray, *, threshold: float = 0.2, chunk: int = 4096
) -> np.ndarray:
    """The ``rows`` of ``table`` (windows of audio without the word) on which ``model`` says more than
    ``threshold``: the false accepts to feed back into training. Scored ``chunk`` windows at a time."""
    rows = np.asarray(rows, np.int64)
    hard = [rows[:0]]
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        hard.append(part[predict_windows(model, table[part]) > threshold])
    return np.concatenate(hard)


def hard_negative_windows(
    model, clips: EmbeddedClips, *, history: int = HISTORY, threshold: float = 0.2, chunk: int = 200
) -> np.ndarray:
    """Windows ``(n, history, 96)`` of negative-only ``clips`` (no words in them) on which ``model`` says
    more than ``threshold``: :func:`hard_negative_rows` over the clips, as an array, scoring about
    ``chunk`` clips' windows at a time."""
    table = WindowTable(clips.emb, history)
    every = table.clip_rows(0, len(clips.emb))
    steps = max((len(e) for e in clips.emb), default=1)
    return table[hard_negative_rows(model, table, every, threshold=threshold, chunk=max(1, chunk * steps))]


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

    The windows are rows of one :class:`WindowTable`, gathered a batch at a time: memory grows with the
    clips' embeddings, not with the 16x larger windows, and mining adds rows, not copies.
    """
    negatives = negative_clips if negative_clips is not None else EmbeddedClips(clips.emb[:0], [])
    # one table holds both sets' embeddings; training windows are rows of it, gathered batch by batch
    table = WindowTable(list(clips.emb) + list(negatives.emb), history)
    rows, y, w = training_rows(table, clips, positive_s=positive_s, ignore_s=ignore_s)
    negative_rows = table.clip_rows(len(clips.emb), len(clips.emb) + len(negatives.emb))
    heads = []
    for k in range(int(members)):
        head = build_head(history, units=units, layers=layers, dropout=dropout, input_dropout=input_dropout)
        train_head(head, table, y, w, rows=rows, epochs=epochs, seed=seed + k, verbose=verbose)
        heads.append(head)
    info = {"windows": len(y), "positive_windows": int(y.sum()), "hard_negative_windows": 0}
    # Mycroft Precise's incremental training: feed the firings back, retrain, and look again
    for _ in range(int(mining_rounds) if len(negative_rows) else 0):
        hard = hard_negative_rows(
            average_heads(heads), table, negative_rows, threshold=hard_negative_threshold
        )
        info["hard_negative_windows"] += len(hard)
        if not len(hard):
            break
        rows = np.concatenate([rows, hard])
        y = np.concatenate([y, np.zeros(len(hard), np.float32)])
        w = np.concatenate([w, np.full(len(hard), hard_negative_weight, np.float32)])
        for k, head in enumerate(heads):
            train_head(
                head,
                table,
                y,
                w,
                rows=rows,
                epochs=max(2, epochs // 2),
                learning_rate=3e-4,
                seed=seed + k,
                verbose=verbose,
            )
    return average_heads(heads), info
