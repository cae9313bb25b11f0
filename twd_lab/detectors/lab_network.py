"""The trained network as a fast, stateful function: frames and GRU states in, probabilities and states out.

:class:`ChunkedModel` runs the lab network on spectrogram frames of any length, in blocks, starting from
and handing back the GRU hidden states. A whole file is one call from zero states
(:func:`twd_lab.detection.detect_triggerword`); a stream is many calls that carry the states
(:class:`twd_lab.detectors.live.StreamingDetector`). Both run the same code, so they agree to float rounding.

Time of a step. Output step ``j`` depends on the samples ``[0, 320 j + 1320)``: ``1320`` samples fill the
first kernel (``RECEPTIVE_FIELD_SAMPLES``) and each step adds ``320`` (``STEP_SAMPLES``: stride 4 frames of
hop 80). So step ``j`` is decided at ``(320 j + 1320) / 44100`` s, the earliest moment a live detector could
fire; :func:`step_times_s` is that, and every trigger time the project's detection reports is one. (The lab
draws step ``j`` at ``j * 10 s / 1375``: within 0.03 s of ours in a 10 s clip, but that drifts by 0.23 %,
0.14 s a minute, on longer audio: 60 s gives 8,265 steps, not 6 x 1,375.)

Speed. The network runs in blocks of a fixed number of steps through one XLA-compiled function (TensorFlow
``jit_compile``; compiled once per block size, under a second), padded at the end and masked, so that the
GRU state after a partial block is exact. The GRUs are a scan whose input projection is one matrix product
before the loop. Set ``TWD_LAB_XLA=0`` to use a plain ``tf.function`` instead (also the fallback where XLA
cannot compile).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np

from twd_lab.constants import CONV_KERNEL, CONV_STRIDE, HOP, N_FREQ, NFFT, SAMPLE_RATE, steps_for_frames
from twd_lab.detectors.base import Trigger, trigger_records

#: Samples that the first output step depends on (one Conv1D kernel of frames): 1,320 = 29.9 ms.
RECEPTIVE_FIELD_SAMPLES = (CONV_KERNEL - 1) * HOP + NFFT
#: Samples between two output steps (stride 4 frames of hop 80): 320 = 7.26 ms.
STEP_SAMPLES = CONV_STRIDE * HOP
#: Layers of the lab network that the chunked runner uses, by the names twd_lab.models gives them.
LAB_LAYERS = ("conv", "bn_conv", "gru_1", "bn_1", "gru_2", "bn_2", "output")
#: Output steps per compiled call: whole files, and streams.
FILE_BLOCK_STEPS = 1024
STREAM_BLOCK_STEPS = 128

__all__ = [
    "RECEPTIVE_FIELD_SAMPLES",
    "STEP_SAMPLES",
    "ChunkedModel",
    "Trigger",
    "chunked_model",
    "load_keras_model",
    "runner_for",
    "step_times_s",
    "trigger_records",
    "triggers_at",
]


def step_times_s(steps) -> np.ndarray:
    """Seconds from the start at which output steps are decided: ``(320 j + 1320) / 44100``.

    >>> step_times_s([0, 1374]).round(4).tolist()
    [0.0299, 10.0]
    """
    steps = np.asarray(steps, dtype=np.float64)
    return (steps * STEP_SAMPLES + RECEPTIVE_FIELD_SAMPLES) / SAMPLE_RATE


def triggers_at(steps, scores) -> list[Trigger]:
    """:class:`Trigger` records for firing lab-network ``steps`` (indices from the start) with their
    ``scores`` (:func:`trigger_records` at :func:`step_times_s`)."""
    return trigger_records(step_times_s(steps), scores)


# ------------------------------------------------------------------------------------ the network


def _clone(layer):
    """A fresh copy of a Keras layer (same config), not yet built."""
    return type(layer).from_config(layer.get_config())


def _use_xla() -> bool:
    return os.environ.get("TWD_LAB_XLA", "1").strip().lower() not in ("0", "false", "no", "off")


class ChunkedModel:
    """The lab network as ``(normalised frames, GRU states) -> (probabilities, new GRU states)``.

    Built from a trained model's layers (``conv``, ``bn_conv``, ``gru_1``, ``bn_1``, ``gru_2``, ``bn_2``,
    ``output``; dropout is the identity at inference and left out) with copies of their weights, in
    inference mode. The GRUs run as a scan over their cells' weights that starts from, and hands back,
    a hidden state (Keras's own GRU layer does the same arithmetic but compiles and runs slower); padded
    steps (``mask`` False) leave the state as it is. :meth:`sync` copies the weights again. The model's
    :class:`~twd_lab.layers.CausalNormalization` layer (``norm``; none is allowed) is used as it is.

    Raises ``ValueError`` if ``model`` lacks one of the layers (another architecture).
    """

    def __init__(self, model):
        import keras

        from twd_lab.models import norm_layer

        check_lab_layers(model, f"model {getattr(model, 'name', model)!r}")
        self._source = weakref.ref(model)  # weak: a cache keyed by the model must not keep it alive
        self.norm = norm_layer(model)
        src = {name: model.get_layer(name) for name in LAB_LAYERS}
        for name in ("gru_1", "gru_2"):
            _check_gru(src[name])
        self.units = (int(src["gru_1"].units), int(src["gru_2"].units))
        self.layers = {name: _clone(layer) for name, layer in src.items()}
        x = keras.KerasTensor((1, None, N_FREQ))  # build every copy: one symbolic pass through them
        for name in LAB_LAYERS:
            x = self.layers[name](x)
        self.sync()
        # TimeDistributed(Dense) (the lab's output form) is a Dense on the last axis; XLA compiles the
        # wrapper's per-step loop a hundred times slower (a minute), so the inner layer is used directly.
        head = self.layers["output"]
        self._head = head.layer if isinstance(head, keras.layers.TimeDistributed) else head
        self._compiled: dict[int | str, Callable] = {}

    @property
    def source(self):
        """The Keras model the weights come from."""
        model = self._source()
        if model is None:
            raise RuntimeError("the model this runner was built from no longer exists")
        return model

    def sync(self) -> None:
        """Copy the current weights of the source model's layers into this runner."""
        for name, layer in self.layers.items():
            layer.set_weights(self.source.get_layer(name).get_weights())

    def _forward(self, frames, mask, h1, h2):
        from keras import ops

        L = self.layers
        x = L["conv"](frames)
        x = ops.relu(L["bn_conv"](x, training=False))
        x, h1 = _gru(x, mask, h1, L["gru_1"].cell)
        x = L["bn_1"](x, training=False)
        x, h2 = _gru(x, mask, h2, L["gru_2"].cell)
        x = L["bn_2"](x, training=False)
        return self._head(x), h1, h2

    def _block_fn(self, block_steps: int) -> Callable:
        fn = self._compiled.get(block_steps)
        if fn is None:
            import keras

            fn = self._forward
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                plain = tf.function(self._forward, reduce_retracing=True)
                if _use_xla():
                    xla = tf.function(self._forward, jit_compile=True)
                    fn = _with_fallback(xla, plain, (tf.errors.OpError, NotImplementedError))
                else:
                    fn = plain
            self._compiled[block_steps] = fn
        return fn

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        """GRU hidden states before any audio: zeros, shapes ``(1, 128)`` and ``(1, 128)``."""
        return np.zeros((1, self.units[0]), np.float32), np.zeros((1, self.units[1]), np.float32)

    def normalize(self, frames: np.ndarray, state=None):
        """The model's input normalisation of ``frames`` ``(T, 101)`` from ``state``: ``(y, new_state)``."""
        frames = np.asarray(frames, np.float32)
        if self.norm is None:
            return frames, None
        if state is None:
            state = self.norm.initial_state(1)
        y, *state = self._normalize_from()(frames[None], *state)
        return np.asarray(y)[0], tuple(state)

    def run(self, frames: np.ndarray, h1, h2, *, block_steps: int = FILE_BLOCK_STEPS):
        """Probabilities for every whole step of normalised ``frames`` ``(T, 101)``, from states ``h1, h2``.

        Returns ``(probs (n_steps,), h1, h2)`` with ``n_steps = steps_for_frames(T)``; the caller keeps the
        frames from ``4 * n_steps`` on (the next step's kernel) for the next call.
        """
        frames = np.asarray(frames, np.float32)
        n_steps = steps_for_frames(frames.shape[0])
        probs = np.empty(n_steps, np.float32)
        a = 0
        while a < n_steps:
            # whole blocks of block_steps; what is left in the small streaming blocks (less padding)
            size = block_steps if n_steps - a >= block_steps else min(block_steps, STREAM_BLOCK_STEPS)
            fn = self._block_fn(size)
            span = CONV_STRIDE * size + CONV_KERNEL - CONV_STRIDE  # frames one block reads
            k = min(size, n_steps - a)
            block = frames[CONV_STRIDE * a : CONV_STRIDE * a + span]
            mask = np.ones((1, size), bool)
            if k < size:  # pad to the compiled shape; the mask keeps the GRU states exact
                block = np.concatenate([block, np.zeros((span - block.shape[0], N_FREQ), np.float32)])
                mask[0, k:] = False
            out, h1, h2 = fn(block[None], mask, h1, h2)
            probs[a : a + k] = np.asarray(out)[0, :k, 0]
            a += k
        return probs, h1, h2

    def warm_up(self, block_steps: int = FILE_BLOCK_STEPS) -> None:
        """Compile the block function now (about a second) rather than on the first real call."""
        frames = np.zeros((CONV_STRIDE * block_steps + CONV_KERNEL - CONV_STRIDE, N_FREQ), np.float32)
        self.run(frames, *self.initial_state(), block_steps=block_steps)

    def probabilities(self, raw_frames: np.ndarray) -> np.ndarray:
        """The whole-file pass: probabilities ``(n_steps,)`` for spectrogram frames ``(T, 101)`` (lab values)."""
        frames = np.asarray(raw_frames, np.float32)
        y = frames if self.norm is None else np.asarray(self._normalize_whole()(frames[None]))[0]
        return self.run(y, *self.initial_state())[0]

    def _normalize_from(self) -> Callable:
        # layer.normalize from a carried state, as one graph: op by op it was 40% of a file's time
        fn = self._compiled.get("normalize_from")
        if fn is None:

            def fn(x, count, s1, s2):
                y, state = self.norm.normalize(x, (count, s1, s2))
                return (y, *state)

            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                specs = [
                    tf.TensorSpec((1, None, N_FREQ), tf.float32),
                    tf.TensorSpec((1, 1, 1), tf.float32),
                    tf.TensorSpec((1, 1, N_FREQ), tf.float32),
                    tf.TensorSpec((1, 1, N_FREQ), tf.float32),
                ]
                fn = tf.function(fn, input_signature=specs)
            self._compiled["normalize_from"] = fn
        return fn

    def _normalize_whole(self) -> Callable:
        # the same layer.normalize from no state, as one graph (a third faster than op by op on a minute)
        fn = self._compiled.get("normalize")
        if fn is None:
            fn = lambda x: self.norm.normalize(x)[0]
            import keras

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                spec = tf.TensorSpec((1, None, N_FREQ), tf.float32)
                fn = tf.function(fn, input_signature=[spec])
            self._compiled["normalize"] = fn
        return fn


def _with_fallback(fast: Callable, plain: Callable, errors: tuple) -> Callable:
    """``fast`` (XLA), or ``plain`` for good if the first call of ``fast`` fails (no XLA on this platform)."""
    chosen: list[Callable] = []

    def call(*args):
        if chosen:
            return chosen[0](*args)
        try:
            out = fast(*args)
        except errors as exc:
            import warnings

            warnings.warn(f"XLA compilation failed ({type(exc).__name__}); running without it", stacklevel=2)
            chosen.append(plain)
            return plain(*args)
        chosen.append(fast)
        return out

    return call


def _check_gru(layer) -> None:
    cell = getattr(layer, "cell", None)
    ok = (
        cell is not None
        and getattr(cell, "reset_after", False)
        and getattr(cell, "use_bias", False)
        and getattr(cell.activation, "__name__", "") == "tanh"
        and getattr(cell.recurrent_activation, "__name__", "") == "sigmoid"
    )
    if not ok:
        raise ValueError(
            f"layer {layer.name!r} is not a Keras GRU with the defaults (reset_after=True, tanh, sigmoid, bias)"
        )


def _gru(x, mask, h, cell):
    """A Keras GRU (``reset_after=True``) over ``x`` ``(1, T, d)`` from state ``h`` ``(1, u)``: ``(y, h)``.

    The input projection of every step is one matrix product before the loop; the loop itself only
    multiplies the state. Where ``mask`` ``(1, T)`` is False the state is carried unchanged.
    """
    from keras import ops

    kernel, recurrent, bias = cell.kernel, cell.recurrent_kernel, cell.bias
    xw = ops.matmul(x[0], kernel) + bias[0]  # (T, 3u): the z, r and candidate parts of every step

    def step(h, inputs):
        xt, keep = inputs
        inner = ops.matmul(h, recurrent) + bias[1]
        xz, xr, xh = ops.split(xt[None], 3, axis=-1)
        iz, ir, ih = ops.split(inner, 3, axis=-1)
        z = ops.sigmoid(xz + iz)
        r = ops.sigmoid(xr + ir)
        candidate = ops.tanh(xh + r * ih)
        h = ops.where(keep, z * h + (1.0 - z) * candidate, h)
        return h, h

    h, ys = ops.scan(step, h, (xw, mask[0]))  # ys: (T, 1, u)
    return ops.transpose(ys, (1, 0, 2)), h


def _has_layer(model, name: str) -> bool:
    try:
        model.get_layer(name)
    except (ValueError, AttributeError):
        return False
    return True


# Runners are cached: for a model object (weights re-synced on every use, so more training is seen) and
# for a model file (keyed by path, size and modification time).
_BY_MODEL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BY_PATH: dict[tuple, tuple[ChunkedModel, object]] = {}  # (runner, the model it keeps alive)


def load_keras_model(model=None):
    """``model`` if it is a Keras model; else load it from a path (``None``: the shipped model), cached."""
    return runner_for(model)[1]


def runner_for(model=None) -> tuple[ChunkedModel | None, object]:
    """``(runner, keras_model)`` for a Keras model, a ``.keras`` path or ``None`` (the shipped model), cached.

    ``runner`` is the cached :class:`ChunkedModel` (weights re-synced), or ``None`` when the model is not the
    lab network (then call ``keras_model`` itself).
    """
    if model is None or isinstance(model, (str, os.PathLike)):
        from twd_lab.models import load_model

        if model is None:
            from twd_lab.assets_index import model_path

            model = model_path()
        path = Path(model).resolve()
        if path.is_dir():
            raise IsADirectoryError(f"model: {model} is a folder, not a .keras model file")
        if not path.is_file():
            raise FileNotFoundError(f"model: no such file: {path}")
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _BY_PATH:
            keras_model = load_model(path)
            try:
                runner = ChunkedModel(keras_model)
            except ValueError:
                return None, keras_model
            _BY_PATH.clear()  # one file model at a time is plenty
            _BY_PATH[key] = (runner, keras_model)
        return _BY_PATH[key]
    if not hasattr(model, "get_layer"):
        raise TypeError(
            f"model must be a Keras model, a path to a .keras file or None, got {type(model).__name__}"
        )
    runner = _BY_MODEL.get(model)
    if runner is None:
        try:
            runner = ChunkedModel(model)
        except ValueError:
            return None, model
        _BY_MODEL[model] = runner
    else:
        runner.sync()
    return runner, model


def chunked_model(model=None) -> ChunkedModel:
    """The cached :class:`ChunkedModel` of ``model`` (a Keras model, a ``.keras`` path, or ``None``: shipped).

    Raises ``ValueError`` for a model that is not the lab network (streaming needs its layers).
    """
    runner, keras_model = runner_for(model)
    if runner is None:
        if isinstance(model, (str, os.PathLike)):  # the file the user gave, by its name
            check_lab_layers(keras_model, f"model: {model}")
        ChunkedModel(keras_model)  # raises the ValueError that says why
    return runner


def check_lab_layers(model, shown: str) -> None:
    """Raise ``ValueError`` (``shown`` first: the model as the message names it) when ``model`` lacks a
    layer of the lab network that streaming needs."""
    missing = [name for name in LAB_LAYERS if not _has_layer(model, name)]
    if missing:
        raise ValueError(
            f"{shown} is not the lab network: it has no layer named "
            f"{', '.join(repr(m) for m in missing)} (see twd_lab.models.build_model)"
        )
