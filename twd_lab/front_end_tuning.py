"""Fine-tune the top of the speech embedding together with a head: a front end that hears through noise.

The speech embedding (:mod:`twd_lab.detectors.speech_embedding`) was learnt on clean speech and is frozen:
every head trained on it traded recall in noise against false accepts along one line, whatever its
training data (docs/talk.md). Here its top stage (the layers after its third pooling: seven convolutions
and a pooling, 242,688 weights of 328,217) is rebuilt as Keras layers with the shipped weights and trained
on with the head, on the same synthetic clips; the lower stages stay frozen and are run once per clip.

The result is two files: the head (as :func:`twd_lab.embedding_detector.build_head` makes it) and a
``.npz`` of the new top weights, named as the ONNX model names them, which
:func:`twd_lab.detectors.onnx_sliding.with_weights` swaps into the installed model when a detector loads
(nothing of the original model is copied into the project). ``tools/tune_front_end.py`` runs it all.

Shapes: mel frames ``(frames, 32)``; the frozen stages give ``(T, 4, 72)`` (time every 40 ms, 4 mel
groups, 72 channels; ``T = 244`` for a 10 s clip); the top gives embeddings ``(T // 2 - 6, 96)`` (116).

Keras is imported only by the functions that build or train layers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twd_lab.detectors.speech_embedding import EMBEDDING_DIM, model_files

#: The top stage starts after this many of the model's poolings ...
TOP_AFTER_POOLINGS = 3
#: ... which is where the second of the sliding model's stages ends (:func:`~twd_lab.detectors.onnx_sliding.stages`
#: cuts it after each pooling that halves time; two of those three do).
FROZEN_STAGES = 2
#: Embedding units the tuned top may drift from the starting one on a kept clip before it costs as much as
#: a unit of loss (the embeddings' values spread over about -40 ... 40).
KEEP_SCALE = 10.0
#: Channels and mel groups of the frozen stages' output.
BELOW_CHANNELS, BELOW_BANDS = 72, 4


def _graph(model_path=None):
    """(the top's ONNX nodes, {initializer name: array}) of the embedding model."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path or model_files()["embedding"]))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = list(model.graph.node)
    pools = [i for i, n in enumerate(nodes) if n.op_type == "MaxPool"]
    if len(pools) <= TOP_AFTER_POOLINGS or nodes[-1].op_type != "Reshape":
        raise ValueError("the embedding model is not the graph this module knows (poolings, final reshape)")
    return nodes[pools[TOP_AFTER_POOLINGS - 1] + 1 : -1], inits


def _attr(node, name):
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


class FrozenStages:
    """The embedding's lower stages (frozen): scaled mel frames ``(frames, 32)`` -> ``(T, 4, 72)``."""

    def __init__(self):
        import onnxruntime as ort

        from twd_lab.detectors import onnx_sliding

        stages = onnx_sliding.stages(model_files()["embedding"])
        if stages is None:
            raise ImportError('tuning the front end needs the onnx package: pip install "twd-lab[embedding]"')
        self._sessions = [
            ort.InferenceSession(s.model, providers=["CPUExecutionProvider"]) for s in stages[:FROZEN_STAGES]
        ]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = np.asarray(frames, np.float32)[None, :, :, None]
        for s in self._sessions:
            x = s.run(None, {s.get_inputs()[0].name: x})[0]
        return x[0].transpose(1, 2, 0)  # (72, T, 4) -> (T, 4, 72)


@functools.cache
def _max_const_layer():
    import keras

    @keras.saving.register_keras_serializable(package="twd_lab")
    class AtLeast(keras.layers.Layer):
        """``max(x, floor)``: the ONNX graph's ``Max`` with a constant after each activation."""

        def __init__(self, floor: float, **kwargs):
            super().__init__(**kwargs)
            self.floor = float(floor)

        def call(self, x):
            return keras.ops.maximum(x, self.floor)

        def get_config(self):
            return {**super().get_config(), "floor": self.floor}

    return AtLeast


@dataclass
class Top:
    """The top stage as Keras layers: ``model`` maps ``(T, 4, 72)`` to ``(T', 96)``; ``convs`` pairs each
    convolution with the ONNX names of its kernel and bias (None when it has none)."""

    model: object
    convs: list

    def weights(self) -> dict[str, np.ndarray]:
        """The layers' weights named and laid out as the ONNX model holds them (out, in, time, band)."""
        out = {}
        for layer, kernel, bias in self.convs:
            w = layer.get_weights()
            out[kernel] = w[0].transpose(3, 2, 0, 1).astype(np.float32)
            if bias is not None:
                out[bias] = w[1].astype(np.float32)
        return out

    def load(self, path: str | Path) -> None:
        """Set the layers from a ``.npz`` written by :meth:`save` (a tuned front end to go on from)."""
        with np.load(path) as f:
            saved = {name: f[name] for name in f.files}
        missing = sorted(set(self.weights()) - set(saved))
        if missing:
            raise ValueError(
                f"front end: {path} lacks {len(missing)} of the top's weights ({missing[0]}, ...)"
            )
        for layer, kernel, bias in self.convs:
            layer.set_weights([saved[kernel].transpose(2, 3, 1, 0)] + ([saved[bias]] if bias else []))

    def save(self, path: str | Path) -> Path:
        """Write :meth:`weights` as the ``.npz`` a detector's ``front_end`` names."""
        path = Path(path)
        np.savez(path, **self.weights())
        return path


def build_top(time_steps: int | None = None, model_path=None, name: str = "embedding_top") -> Top:
    """The embedding's top stage in Keras with the shipped weights (or ``model_path``'s)."""
    import keras

    AtLeast = _max_const_layer()
    nodes, inits = _graph(model_path)
    x = inputs = keras.Input((time_steps, BELOW_BANDS, BELOW_CHANNELS))
    convs = []
    for node in nodes:
        if node.op_type == "Conv":
            kernel = inits[node.input[1]]
            bias = node.input[2] if len(node.input) > 2 else None
            pads = _attr(node, "pads") or [0, 0, 0, 0]
            if any(pads):
                x = keras.layers.ZeroPadding2D(((pads[0], pads[2]), (pads[1], pads[3])))(x)
            layer = keras.layers.Conv2D(kernel.shape[0], tuple(kernel.shape[2:]), use_bias=bias is not None)
            x = layer(x)
            layer.set_weights([kernel.transpose(2, 3, 1, 0)] + ([inits[bias]] if bias else []))
            convs.append((layer, node.input[1], bias))
        elif node.op_type == "LeakyRelu":
            x = keras.layers.LeakyReLU(negative_slope=_attr(node, "alpha"))(x)
        elif node.op_type == "Max":
            x = AtLeast(float(inits[node.input[1]].ravel()[0]))(x)
        elif node.op_type == "MaxPool":
            x = keras.layers.MaxPooling2D(tuple(_attr(node, "kernel_shape")), tuple(_attr(node, "strides")))(
                x
            )
        else:
            raise ValueError(
                f"the embedding's top holds a {node.op_type} node, which this module cannot rebuild"
            )
    x = keras.layers.Reshape((-1, EMBEDDING_DIM))(x)
    return Top(keras.Model(inputs, x, name=name), convs)


def _members(head) -> list:
    import keras

    members = [layer for layer in head.layers if isinstance(layer, keras.Sequential)]
    return members or [head]


def head_over_time(head, history: int, dropout: float = 0.3, input_dropout: float = 0.3):
    """A head of :func:`~twd_lab.embedding_detector.build_head` (or an average of them), one layer and
    dense, as the same function over a whole sequence: ``(T', 96)`` -> ``(T' - history + 1, 1)``, the
    probability of every full window at once (its first dense layer becomes a convolution over time)."""
    import keras

    inputs = keras.Input((None, EMBEDDING_DIM))
    outs = []
    for i, member in enumerate(_members(head)):
        dense = [layer for layer in member.layers if isinstance(layer, keras.layers.Dense)]
        norms = [layer for layer in member.layers if isinstance(layer, keras.layers.LayerNormalization)]
        if len(dense) != 2 or len(norms) != 1:
            raise ValueError("head: only a one-layer head of build_head can be tuned with the front end")
        (w1, b1), (w2, b2) = dense[0].get_weights(), dense[1].get_weights()
        y = keras.layers.Dropout(input_dropout)(inputs)
        first = keras.layers.Conv1D(w1.shape[1], history, name=f"member{i}_dense")
        y = first(y)
        first.set_weights([w1.reshape(history, EMBEDDING_DIM, -1), b1])
        norm = keras.layers.LayerNormalization(epsilon=norms[0].epsilon, name=f"member{i}_norm")
        y = norm(y)
        norm.set_weights(norms[0].get_weights())
        y = keras.layers.Dropout(dropout)(keras.layers.ReLU()(y))
        last = keras.layers.Conv1D(1, 1, activation="sigmoid", name=f"member{i}_out")
        y = last(y)
        last.set_weights([w2.reshape(1, -1, 1), b2])
        outs.append(y)
    out = outs[0] if len(outs) == 1 else keras.layers.Average()(outs)
    return keras.Model(inputs, out, name="head_over_time")


def head_from_time(over_time, history: int):
    """The windows head (:func:`~twd_lab.embedding_detector.build_head`, averaged) of a
    :func:`head_over_time` model: what a detector saves and runs."""
    from twd_lab.embedding_detector import average_heads, build_head

    heads, i = [], 0
    while any(layer.name == f"member{i}_dense" for layer in over_time.layers):
        first, norm, last = (over_time.get_layer(f"member{i}_{n}") for n in ("dense", "norm", "out"))
        (w1, b1), (w2, b2) = first.get_weights(), last.get_weights()
        head = build_head(history, units=w1.shape[-1], layers=1, input_dropout=0.3)
        dense = [layer for layer in head.layers if layer.__class__.__name__ == "Dense"]
        dense[0].set_weights([w1.reshape(history * EMBEDDING_DIM, -1), b1])
        dense[1].set_weights([w2.reshape(-1, 1), b2])
        next(layer for layer in head.layers if layer.__class__.__name__ == "LayerNormalization").set_weights(
            norm.get_weights()
        )
        heads.append(head)
        i += 1
    return average_heads(heads)


def _first(outputs):
    return outputs[0] if isinstance(outputs, list | tuple) else outputs


def targets(word_ends_s: Sequence[Sequence[float]], n_steps: int, history: int):
    """Labels and weights ``(clips, n_steps - history + 1)`` of the full windows of each clip
    (:func:`~twd_lab.embedding_detector.step_labels`)."""
    from twd_lab.detectors.speech_embedding import step_times
    from twd_lab.embedding_detector import step_labels

    times = step_times(n_steps)
    pairs = [step_labels(times, ends) for ends in word_ends_s]
    y = np.stack([p[0][history - 1 :] for p in pairs])
    w = np.stack([p[1][history - 1 :] for p in pairs])
    return y, w


def tune(
    below: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    head,
    *,
    history: int,
    epochs: int = 6,
    rounds: int = 1,
    batch_size: int = 16,
    learning_rate: float = 1e-4,
    hard_negative_threshold: float = 0.2,
    hard_negative_weight: float = 3.0,
    seed: int = 0,
    verbose: int = 2,
    start_front_end: str | Path | None = None,
    freeze_head: bool = False,
    keep: np.ndarray | None = None,
    keep_weight: float = 1.0,
):
    """Train the top and the head together on clips; returns ``(Top, windows head, info)``.

    ``below``: the frozen stages' output ``(clips, T, 4, 72)`` (float16 is fine); ``y``, ``w``: targets of
    :func:`targets`. Negative steps where the starting detector says more than ``hard_negative_threshold``
    weigh ``hard_negative_weight`` times as much; positives and negatives then carry equal total weight.
    With ``rounds`` > 1 the epochs are split into rounds and the hard negatives are found again, by the
    detector as it stands, before each (Mycroft Precise's incremental training, on every step at once).
    ``start_front_end``: the ``.npz`` of a tuned front end to start the top from (default: as shipped).
    ``freeze_head``: train the top only, the head as it came. ``keep`` (bool per clip): clips on which
    the tuned embeddings are pulled toward the starting ones, with loss ``keep_weight`` x the mean squared
    difference (in units of :data:`KEEP_SCALE`): what the head already hears well (clean words, talk) stays
    as it was, and the top changes where the clips are noisy.
    """
    import keras

    if below.ndim != 4 or below.shape[2:] != (BELOW_BANDS, BELOW_CHANNELS):
        raise ValueError(
            f"below must have shape (clips, T, {BELOW_BANDS}, {BELOW_CHANNELS}), got {below.shape}"
        )
    if len(y) != len(below) or y.shape != w.shape:
        raise ValueError(
            f"y and w must be (clips, windows) for {len(below)} clips, got {y.shape} and {w.shape}"
        )
    if not 1 <= rounds <= epochs:
        raise ValueError(f"rounds must be between 1 and epochs ({epochs}), got {rounds}")
    keras.utils.set_random_seed(int(seed))
    top = build_top(below.shape[1])
    if start_front_end is not None:
        top.load(start_front_end)
    over_time = head_over_time(head, history)
    if freeze_head:
        over_time.trainable = False
    inputs = keras.Input(below.shape[1:])
    emb = top.model(inputs)
    probs = over_time(emb)
    if probs.shape[1] != y.shape[1]:
        raise ValueError(
            f"clips of {below.shape[1]} steps give {probs.shape[1]} windows, targets {y.shape[1]}"
        )
    if keep is not None:
        keep = np.asarray(keep, bool)
        if keep.shape != (len(below),):
            raise ValueError(f"keep must be one bool per clip ({len(below)}), got shape {keep.shape}")
        start_top = build_top(below.shape[1], name="starting_top")
        if start_front_end is not None:
            start_top.load(start_front_end)
        start_top.model.trainable = False
        drift = keras.layers.Subtract()([emb, start_top.model(inputs)])
        drift = keras.layers.Rescaling(1.0 / KEEP_SCALE, name="drift")(drift)
        model = keras.Model(inputs, [probs, drift])
    else:
        model = keras.Model(inputs, probs)

    rng = np.random.default_rng(seed)

    class Clips(keras.utils.PyDataset):
        def __init__(self, weights):
            super().__init__()
            self.weights = weights
            self.order = rng.permutation(len(below))

        def __len__(self):
            return math.ceil(len(below) / batch_size)

        def __getitem__(self, i):
            b = np.sort(self.order[i * batch_size : (i + 1) * batch_size])
            x = below[b].astype(np.float32)
            if keep is None:
                return x, y[b][..., None], self.weights[b]
            zeros = np.zeros((len(b), n_steps, EMBEDDING_DIM), np.float32)
            kept = np.repeat(keep[b, None].astype(np.float32) * keep_weight, n_steps, axis=1)
            return x, (y[b][..., None], zeros), (self.weights[b], kept)

        def on_epoch_end(self):
            self.order = rng.permutation(len(below))

    n_steps = emb.shape[1]
    loss = "binary_crossentropy" if keep is None else ["binary_crossentropy", "mse"]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    losses, hard_counts = [], []
    per_round = [epochs // rounds + (r < epochs % rounds) for r in range(rounds)]
    for n_epochs in per_round:
        # hard negatives of the detector as it stands (the starting one first): weighed more this round
        scores = np.concatenate(
            [
                _first(model.predict(below[i : i + 64].astype(np.float32), verbose=0))[..., 0]
                for i in range(0, len(below), 64)
            ]
        )
        weights = np.asarray(w, np.float32).copy()
        hard = (y < 0.5) & (weights > 0) & (scores > hard_negative_threshold)
        weights[hard] *= hard_negative_weight
        pos = (y > 0.5) & (weights > 0)
        if pos.any():
            weights[pos] *= weights[y < 0.5].sum() / weights[pos].sum()
        weights *= weights.size / weights.sum()
        hard_counts.append(int(hard.sum()))
        fitted = model.fit(Clips(weights), epochs=n_epochs, verbose=verbose)
        losses += fitted.history["loss"]
    info = {
        "clips": len(below),
        "positive_windows": int(pos.sum()),
        "hard_negative_windows": hard_counts,
        "loss": [round(float(v), 4) for v in losses],
    }
    return top, head_from_time(over_time, history), info


def distill(
    below_noisy: np.ndarray,
    below_clean: np.ndarray,
    target: np.ndarray,
    *,
    epochs: int = 8,
    learning_rate: float = 1e-4,
    clean_weight: float = 1.0,
    batch_size: int = 16,
    validation: float = 0.1,
    seed: int = 0,
    verbose: int = 0,
    progress=None,
):
    """Teach the top to hear through noise without labels: returns ``(Top, info)``.

    For each clip, ``below_noisy`` is the frozen stages' output of the clip with loud noise, ``below_clean``
    of the same clip without it (``(clips, T, 4, 72)``, float16 is fine), and ``target`` the embeddings the
    shipped model gives the clean clip (``(clips, T // 2 - 6, 96)``). The top is trained so that the noisy
    clip gives the clean clip's embeddings, and the clean clip its own (weighted ``clean_weight``): a front
    end under the head as it is, with no word, label or head in the loss. The last ``validation`` share
    of the clips is held out; ``info`` has the mean squared distance to the targets (in units of
    :data:`KEEP_SCALE`) before and after each epoch, noisy and clean. ``progress(epoch, info)`` is called
    after each epoch.
    """
    import keras

    below_noisy, below_clean, target = (np.asarray(a) for a in (below_noisy, below_clean, target))
    if below_noisy.ndim != 4 or below_noisy.shape[2:] != (BELOW_BANDS, BELOW_CHANNELS):
        raise ValueError(
            f"below_noisy must have shape (clips, T, {BELOW_BANDS}, {BELOW_CHANNELS}), got {below_noisy.shape}"
        )
    if below_clean.shape != below_noisy.shape:
        raise ValueError(
            f"below_clean must have below_noisy's shape {below_noisy.shape}, got {below_clean.shape}"
        )
    steps = below_noisy.shape[1] // 2 - 6
    if target.shape != (len(below_noisy), steps, EMBEDDING_DIM):
        raise ValueError(
            f"target must have shape {(len(below_noisy), steps, EMBEDDING_DIM)}, got {target.shape}"
        )
    if not 0 <= validation < 1 or not clean_weight >= 0:
        raise ValueError(
            f"validation must be in [0, 1) and clean_weight >= 0, got {validation} and {clean_weight}"
        )
    keras.utils.set_random_seed(int(seed))
    n_val = round(len(target) * validation)
    train, held = np.arange(len(target) - n_val), np.arange(len(target) - n_val, len(target))
    if not len(train):
        raise ValueError(f"distill needs clips to train on, got {len(target)} with validation {validation}")
    top = build_top(below_noisy.shape[1])
    inputs = keras.Input(below_noisy.shape[1:])
    model = keras.Model(inputs, keras.layers.Rescaling(1.0 / KEEP_SCALE)(top.model(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    rng = np.random.default_rng(seed)

    class Pairs(keras.utils.PyDataset):
        """Each clip twice an epoch, noisy and clean, in a fresh order."""

        def __init__(self):
            super().__init__()
            self.on_epoch_end()

        def __len__(self):
            return math.ceil(2 * len(train) / batch_size)

        def __getitem__(self, i):
            picks = self.order[i * batch_size : (i + 1) * batch_size]
            clips, clean = train[picks // 2], picks % 2 == 1
            x = np.where(clean[:, None, None, None], below_clean[clips], below_noisy[clips])
            weight = np.where(clean, clean_weight, 1.0).astype(np.float32)
            y = target[clips].astype(np.float32) / KEEP_SCALE
            return x.astype(np.float32), y, np.repeat(weight[:, None], steps, axis=1)

        def on_epoch_end(self):
            self.order = rng.permutation(2 * len(train))

    def distance(below) -> float | None:
        if not len(held):
            return None
        out = np.concatenate(
            [
                model.predict(below[held[i : i + 32]].astype(np.float32), verbose=0)
                for i in range(0, len(held), 32)
            ]
        )
        return round(float(((out - target[held].astype(np.float32) / KEEP_SCALE) ** 2).mean()), 4)

    info = {
        "clips": len(train),
        "held_out_clips": len(held),
        "noisy_distance": [distance(below_noisy)],
        "clean_distance": [distance(below_clean)],
        "loss": [],
    }
    for epoch in range(int(epochs)):
        fitted = model.fit(Pairs(), epochs=1, verbose=verbose)
        info["loss"].append(round(float(fitted.history["loss"][-1]), 4))
        info["noisy_distance"].append(distance(below_noisy))
        info["clean_distance"].append(distance(below_clean))
        if progress is not None:
            progress(epoch + 1, info)
    return top, info


#: Noise kinds of the distillation pairs, drawn evenly: a crowd twice as often as each other kind.
DISTILL_KINDS = ("babble", "babble", "dishes", "traffic", "music")


def distillation_pairs(
    raw,
    n_words: int,
    talkers: Sequence[np.ndarray] = (),
    crowd: Sequence[np.ndarray] = (),
    *,
    snr_range_db: tuple[float, float] = (0.0, 20.0),
    kinds: Sequence[str] = DISTILL_KINDS,
    rng=None,
):
    """``(noisy, clean)`` pairs of 10 s clips at 44.1 kHz for :func:`distill`, one at a time.

    The speech is ``n_words`` lab clips of ``raw``'s words (0-2 "activate" and 0-2 other words, at least
    one word), then each of ``talkers`` (clips of one talker, :func:`twd_lab.talk_eval.clean_talk_clips`).
    Each is laid over one of ``raw``'s backgrounds at the lab's gain (the quiet room the head was trained
    in): that is the clean clip. The noisy one adds noise of a kind drawn from ``kinds``, ``snr_range_db``
    below the speech (babble: 4-8 talkers cut from ``crowd``), and is level-matched as ``twd-lab detect``
    hears a file; the clean one is scaled by the same gain, so the speech is as loud in both.
    """
    from twd_lab.augment import rms_db
    from twd_lab.constants import BACKGROUND_GAIN_DB, CLIP_SAMPLES, TARGET_DBFS
    from twd_lab.rng import as_generator
    from twd_lab.synthesis import synthesize_example
    from twd_lab.talk_eval import noise_for

    activates, negatives, backgrounds = raw
    if not len(backgrounds):
        raise ValueError("raw must hold backgrounds: the clean clips are the words over one of them")
    rng = as_generator(rng)
    room_gain = np.float32(10 ** (BACKGROUND_GAIN_DB / 20))
    for i in range(int(n_words) + len(talkers)):
        if i < n_words:
            said = int(rng.integers(0, 3))
            voice = synthesize_example(
                np.zeros(CLIP_SAMPLES, np.float32),
                activates,
                negatives,
                rng=rng,
                n_activates=said,
                n_negatives=int(rng.integers(0 if said else 1, 3)),
            ).audio
        else:
            voice = np.asarray(talkers[i - int(n_words)], np.float32)
        kind = kinds[int(rng.integers(len(kinds)))]
        snr_db = float(rng.uniform(*snr_range_db))
        loud = noise_for(voice, kind, snr_db, babble_talk=crowd, negatives=negatives, rng=rng)
        room = np.resize(backgrounds[int(rng.integers(len(backgrounds)))], voice.size) * room_gain
        clean = voice + room
        noisy = clean + loud
        gain = np.float32(10 ** ((TARGET_DBFS - rms_db(noisy)) / 20))
        yield noisy * gain, clean * gain


def keep_clips(raw, n: int, *, rng=None):
    """``n`` 10 s clips at 44.1 kHz for :func:`distill` to leave as they are, one at a time: the lab's
    mixed clips of ``raw`` (0-4 activates and 0-2 other words over one of its rooms, as
    :func:`twd_lab.evaluation.iter_test_clips` makes them) heard as ``twd-lab detect`` hears a file
    (silence before and after, :func:`twd_lab.detection.pad_edges`), cut back to 10 s: the even ones
    keep their start with the silence before it, the odd ones their end with the silence after it."""
    from twd_lab.constants import CLIP_SAMPLES
    from twd_lab.detection import pad_edges
    from twd_lab.evaluation import iter_test_clips

    for i, (clip, _) in enumerate(iter_test_clips(raw, n, rng)):
        heard = pad_edges(clip)
        yield heard[:CLIP_SAMPLES] if i % 2 == 0 else heard[-CLIP_SAMPLES:]


def pair_features(noisy: np.ndarray, clean: np.ndarray, stages=None):
    """What :func:`distill` reads of one pair (44.1 kHz): the frozen stages' output of each (float16) and
    the shipped embeddings of the clean clip (float16). ``stages``: a :class:`FrozenStages` to reuse."""
    from twd_lab.constants import SAMPLE_RATE
    from twd_lab.detectors.speech_embedding import embed_frames, mel_frames, to_16k

    stages = FrozenStages() if stages is None else stages
    mel_noisy, mel_clean = (mel_frames(to_16k(x, SAMPLE_RATE)) for x in (noisy, clean))
    return (
        stages(mel_noisy).astype(np.float16),
        stages(mel_clean).astype(np.float16),
        embed_frames(mel_clean).astype(np.float16),
    )
