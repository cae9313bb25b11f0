"""The detector as a stream: audio in, chunk by chunk, with every piece of state carried over.

A whole file is just one long stream, so :func:`twd_lab.detection.detect_triggerword` and
:class:`StreamingDetector` run the same code (:class:`ChunkedModel`) and agree to float rounding.

What must be carried from one chunk to the next, stage by stage::

    samples      the last < 200 samples that do not yet fill a spectrogram frame (hop 80, window 200)
    frames       CausalNormalization's running (count, sum, sumsq) per frequency (H3's layer.normalize)
    conv         the last 11 normalised frames: the Conv1D kernel (15 frames, stride 4) of the next step
    GRUs         the hidden state of gru_1 and gru_2
    firing       TriggerPicker's run of steps above threshold and the last firing (refractory)

Time of a step. Output step ``j`` depends on the samples ``[0, 320 j + 1320)``: ``1320`` samples fill the
first kernel (``RECEPTIVE_FIELD_SAMPLES``) and each step adds ``320`` (``STEP_SAMPLES``: stride 4 frames of
hop 80). So step ``j`` is decided at ``(320 j + 1320) / 44100`` s, the earliest moment a live detector could
fire; :func:`step_times_s` is that, and every trigger time in the project's detection reports it. (The lab
draws step ``j`` at ``j * 10 s / 1375``: within 0.03 s of ours in a 10 s clip, but it drifts by 0.23 %, which
is 0.14 s a minute, on longer audio.)

Speed. The network runs in blocks of a fixed number of steps through one XLA-compiled function (TensorFlow
``jit_compile``; compiled once per block size, about a second), padded at the end and masked, so that the GRU
state after a partial block is exact. Set ``TWD_LAB_XLA=0`` to use a plain ``tf.function`` instead.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twd_lab.constants import (
    CONV_KERNEL,
    CONV_STRIDE,
    HOP,
    N_FREQ,
    NFFT,
    PATIENCE,
    PCM16_SCALE,
    REFRACTORY,
    SAMPLE_RATE,
    THRESHOLD,
    frames_for_samples,
    steps_for_frames,
)

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
    "StreamingDetector",
    "Trigger",
    "chunked_model",
    "step_times_s",
    "triggers_at",
]


class Trigger(NamedTuple):
    """One firing of the detector: when (seconds from the start of the audio) and its probability."""

    time_s: float
    score: float


def step_times_s(steps) -> np.ndarray:
    """Seconds from the start at which output steps are decided: ``(320 j + 1320) / 44100``.

    >>> step_times_s([0, 1374]).round(4).tolist()
    [0.0299, 10.0]
    """
    steps = np.asarray(steps, dtype=np.float64)
    return (steps * STEP_SAMPLES + RECEPTIVE_FIELD_SAMPLES) / SAMPLE_RATE


def triggers_at(steps, scores) -> list[Trigger]:
    """:class:`Trigger` records for firing ``steps`` (indices from the start) with their ``scores``.

    Times and scores are rounded to 4 decimals (0.1 ms; a step is 7.26 ms).
    """
    times = step_times_s(steps)
    return [
        Trigger(round(float(t), 4), round(float(p), 4)) for t, p in zip(times, np.asarray(scores).reshape(-1))
    ]


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

        missing = [name for name in LAB_LAYERS if not _has_layer(model, name)]
        if missing:
            raise ValueError(
                f"model {getattr(model, 'name', model)!r} is not the lab network: it has no layer named "
                f"{', '.join(repr(m) for m in missing)} (see twd_lab.models.build_model)"
            )
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
        return L["output"](x), h1, h2

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
        y, state = self.norm.normalize(frames[None], state)
        return np.asarray(y)[0], state

    def run(self, frames: np.ndarray, h1, h2, *, block_steps: int = FILE_BLOCK_STEPS):
        """Probabilities for every whole step of normalised ``frames`` ``(T, 101)``, from states ``h1, h2``.

        Returns ``(probs (n_steps,), h1, h2)`` with ``n_steps = steps_for_frames(T)``; the caller keeps the
        frames from ``4 * n_steps`` on (the next step's kernel) for the next call.
        """
        frames = np.asarray(frames, np.float32)
        n_steps = steps_for_frames(frames.shape[0])
        probs = np.empty(n_steps, np.float32)
        fn = self._block_fn(block_steps)
        span = CONV_STRIDE * block_steps + CONV_KERNEL - CONV_STRIDE  # frames one block reads
        full = np.ones((1, block_steps), bool)
        for a in range(0, n_steps, block_steps):
            k = min(block_steps, n_steps - a)
            block = frames[CONV_STRIDE * a : CONV_STRIDE * a + span]
            mask = full
            if k < block_steps:  # pad to the compiled shape; the mask keeps the GRU states exact
                block = np.concatenate([block, np.zeros((span - block.shape[0], N_FREQ), np.float32)])
                mask = np.zeros((1, block_steps), bool)
                mask[0, :k] = True
            out, h1, h2 = fn(block[None], mask, h1, h2)
            probs[a : a + k] = np.asarray(out)[0, :k, 0]
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
    return _resolve(model)[1]


def _resolve(model):
    if model is None or isinstance(model, (str, os.PathLike)):
        from twd_lab.models import load_model

        if model is None:
            from twd_lab.assets_index import model_path

            model = model_path()
        path = Path(model).resolve()
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
    runner, keras_model = _resolve(model)
    if runner is None:
        ChunkedModel(keras_model)  # raises the ValueError that names the missing layers
    return runner


# ------------------------------------------------------------------------------------- streaming


class StreamingDetector:
    """Feed audio as it arrives; get the triggers as soon as they are decided.

    ``model``: a Keras model of the lab network, a ``.keras`` path, or ``None`` for the shipped model.
    ``chunk_s``: the chunk length :meth:`process` and :meth:`listen` use (``feed`` takes any length).
    ``threshold``, ``patience``, ``refractory``: the firing rule of :func:`twd_lab.metrics.find_triggers`.

    ``gain_db``: gain applied to every sample fed.

    Samples are float in [-1, 1], mono, at 44.1 kHz (resample first; see :func:`twd_lab.audio.resample`).
    Level. :func:`~twd_lab.detection.detect_triggerword` level-matches a file to -20 dBFS, the level of the
    training clips; a stream's loudness is not known in advance, so it is used as it comes (times
    ``gain_db``). The model's causal normalisation removes a constant gain once it has heard a second or so,
    but it starts from a prior learned at -20 dBFS, so the first probabilities of a much quieter or louder
    stream differ from the level-matched file's. Feed ``preprocess_audio(x)`` (or set ``gain_db``) to match.

    Fed a file in chunks of any size, it gives the same probabilities as the whole-file pass to float
    rounding, and so the same triggers.

    >>> det = StreamingDetector()                                    # doctest: +SKIP
    >>> for chunk in chunks:                                         # doctest: +SKIP
    ...     for trigger in det.feed(chunk):
    ...         print(f"activate! at {trigger.time_s:.2f} s (p={trigger.score:.2f})")
    """

    def __init__(
        self,
        model=None,
        *,
        chunk_s: float = 0.5,
        threshold: float = THRESHOLD,
        patience: int = PATIENCE,
        refractory: int = REFRACTORY,
        gain_db: float = 0.0,
        keep_probabilities: bool = True,
        warm_up: bool = True,
    ):
        from twd_lab.metrics import TriggerPicker

        if not 0 < float(chunk_s) <= 60:
            raise ValueError(f"chunk_s must be in (0, 60] seconds, got {chunk_s}")
        self.chunk_s = float(chunk_s)
        if not np.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of decibels, got {gain_db}")
        self.gain = np.float32(10.0 ** (float(gain_db) / 20.0))
        self.runner = chunked_model(model)
        self._picker_args = (threshold, patience, refractory)
        TriggerPicker(*self._picker_args)  # validates the firing rule now
        self.keep_probabilities = bool(keep_probabilities)
        self.reset()
        if warm_up:
            self.runner.warm_up(STREAM_BLOCK_STEPS)

    def reset(self) -> None:
        """Forget everything heard: the next sample is time 0."""
        from twd_lab.metrics import TriggerPicker

        self.picker = TriggerPicker(*self._picker_args)
        self._samples = np.zeros(0, np.float32)  # not yet a whole frame
        self._frames = np.zeros((0, N_FREQ), np.float32)  # normalised, not yet a whole step
        self._norm_state = None
        self._h1, self._h2 = self.runner.initial_state()
        self._probs: list[np.ndarray] = []
        self.samples_seen = 0
        self.steps_seen = 0
        self.triggers: list[Trigger] = []
        self.compute_s: list[float] = []  # seconds spent in each feed() call

    @property
    def probabilities(self) -> np.ndarray:
        """All probabilities so far, ``(steps_seen,)`` (empty if ``keep_probabilities=False``)."""
        return np.concatenate(self._probs) if self._probs else np.zeros(0, np.float32)

    @property
    def time_s(self) -> float:
        """Seconds of audio fed so far."""
        return self.samples_seen / SAMPLE_RATE

    def feed(self, samples) -> list[Trigger]:
        """Take the next samples (any number, 1-D float in [-1, 1] at 44.1 kHz); return the new triggers."""
        t0 = time.perf_counter()
        x = np.asarray(samples)
        if x.ndim != 1 or x.dtype.kind != "f":
            raise ValueError(f"samples must be a 1-D float array, got shape {x.shape} of {x.dtype}")
        if x.size and not np.all(np.isfinite(x)):
            raise ValueError("samples must be finite (no NaN or infinity)")
        self.samples_seen += x.size
        buf = np.concatenate([self._samples, x.astype(np.float32, copy=False) * self.gain])
        n_frames = frames_for_samples(buf.size)
        new: list[Trigger] = []
        if n_frames:
            from twd_lab.spectrogram import spectrogram

            used = (n_frames - 1) * HOP + NFFT
            raw = spectrogram(buf[:used] * np.float32(PCM16_SCALE)).T
            buf = buf[n_frames * HOP :]
            y, self._norm_state = self.runner.normalize(raw, self._norm_state)
            frames = np.concatenate([self._frames, y])
            probs, self._h1, self._h2 = self.runner.run(
                frames, self._h1, self._h2, block_steps=STREAM_BLOCK_STEPS
            )
            self._frames = frames[CONV_STRIDE * probs.size :]
            if probs.size:
                start = self.steps_seen
                self.steps_seen += probs.size
                if self.keep_probabilities:
                    self._probs.append(probs)
                fired = self.picker.update(probs)  # global step indices
                new = triggers_at(fired, probs[fired - start])
                self.triggers.extend(new)
        self._samples = buf.copy()
        self.compute_s.append(time.perf_counter() - t0)
        return new

    def process(self, samples, chunk_s: float | None = None) -> list[Trigger]:
        """Feed ``samples`` chunk by chunk (``chunk_s``, default the detector's), as a live stream would."""
        x = np.asarray(samples, np.float32).reshape(-1)
        n = max(1, round((chunk_s or self.chunk_s) * SAMPLE_RATE))
        out: list[Trigger] = []
        for a in range(0, x.size, n):
            out.extend(self.feed(x[a : a + n]))
        return out

    def listen(
        self,
        duration_s: float | None = None,
        *,
        device=None,
        on_trigger: Callable[[Trigger], None] | None = None,
    ) -> list[Trigger]:
        """Listen to a microphone (needs the optional ``sounddevice`` package) and report triggers.

        Runs for ``duration_s`` seconds (``None``: until Ctrl-C); calls ``on_trigger`` (default: print)
        for each. Returns the triggers heard.
        """
        try:
            import sounddevice as sd
        except ImportError as exc:  # an optional extra, never a requirement
            raise RuntimeError(
                "listening to a microphone needs the optional package sounddevice: "
                "python -m pip install sounddevice"
            ) from exc
        on_trigger = on_trigger or (lambda t: print(f"activate! at {t.time_s:.2f} s (p={t.score:.2f})"))
        block = round(self.chunk_s * SAMPLE_RATE)
        heard: list[Trigger] = []
        with sd.InputStream(
            samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=block, device=device
        ) as s:
            try:
                while duration_s is None or self.time_s < duration_s:
                    data, _ = s.read(block)
                    for trigger in self.feed(data[:, 0]):
                        heard.append(trigger)
                        on_trigger(trigger)
            except KeyboardInterrupt:
                pass
        return heard
