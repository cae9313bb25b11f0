"""The model's input layer: a causal, parameter-free normalisation of the lab's power spectrogram.

Why it exists. Fed the lab's raw power spectrogram, the lab network collapses to the base rate; fed
log power, it fits in training mode but outputs ~0.01 everywhere in inference mode, because its
BatchNormalization layers see very differently scaled batches than their moving statistics. A
normalisation at the input (log power, then per-frequency mean and variance) fixes that.

Why *causal*. A per-clip normalisation uses the whole clip's statistics, so a detector that listens
to a stream chunk by chunk cannot reproduce it. Here each frame is normalised with the running
statistics of the frames up to and including it, started from a prior (``mu0``, ``sigma0``) that
counts as ``prior_frames`` frames. Feeding a long input in chunks, carrying the state, gives the
same output as one pass (see :meth:`CausalNormalization.normalize`).

Why the high band is zeroed. The project's TTS voices are limited to 8 kHz and real microphones are
not; bins above ``max_hz`` are set to 0 after normalisation so the model never learns that cue.

The layer has no weights, so the lab network keeps its 523,329 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from twd_lab.constants import N_FREQ, NFFT, SAMPLE_RATE

#: Floor added to the power before the log. The lab's spectrogram of 16-bit audio puts one LSB of
#: white noise at ~2.5e-4 per bin and a -20 dBFS mix at ~1e3, so 1e-2 sits just above the
#: quantisation floor and keeps digital silence finite.
DEFAULT_EPS = 1e-2
#: Added to the variance before the square root, in (log power)^2.
DEFAULT_DELTA = 1e-2
#: Weight of the prior, in spectrogram frames (100 frames = 0.18 s).
DEFAULT_PRIOR_FRAMES = 100.0
#: Bins above this frequency are zeroed (bin k is k * 44100 / 200 Hz).
DEFAULT_MAX_HZ = 7_800.0
#: Prior mean and standard deviation of log power, used until per-frequency values are supplied
#: (``tools/train_model.py`` estimates them from the bundled training examples).
DEFAULT_MU0 = 2.0
DEFAULT_SIGMA0 = 3.0


def _per_freq(value: float | Sequence[float], n_freq: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype="float32")
    if arr.ndim == 0:
        arr = np.full(n_freq, float(arr), dtype="float32")
    if arr.shape != (n_freq,):
        raise ValueError(f"{name} must be a number or a sequence of {n_freq} numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def bin_frequencies_hz(n_freq: int = N_FREQ) -> np.ndarray:
    """Centre frequency of each spectrogram row, in Hz: ``k * SAMPLE_RATE / NFFT``."""
    return np.arange(n_freq, dtype="float64") * SAMPLE_RATE / NFFT


def log_power_prior(x: np.ndarray, eps: float = DEFAULT_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Per-frequency mean and standard deviation of ``log(x + eps)`` over examples and frames.

    ``x`` is an array of shape ``(..., T, n_freq)`` (e.g. ``(m, Tx, 101)`` training inputs);
    returns ``(mu0, sigma0)``, each of shape ``(n_freq,)``, to pass to :class:`CausalNormalization`.
    """
    x = np.asarray(x, dtype="float64")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., T, n_freq), got {x.shape}")
    z = np.log(np.maximum(x, 0.0) + eps).reshape(-1, x.shape[-1])
    return z.mean(axis=0).astype("float32"), z.std(axis=0).astype("float32")


@keras.saving.register_keras_serializable(package="twd_lab")
class CausalNormalization(keras.layers.Layer):
    """Log power, then causal per-frequency standardisation with a prior; no weights.

    For each frequency, with ``z = log(x + eps)`` and ``c = prior_frames``::

        mean_t = (c * mu0 + sum_{s<=t} z_s) / (c + t + 1)
        var_t  = max((c * (sigma0**2 + mu0**2) + sum_{s<=t} z_s**2) / (c + t + 1) - mean_t**2, 0)
        out_t  = (z_t - mean_t) / sqrt(var_t + delta)       (0 for bins above max_hz)

    Input and output shape: ``(batch, T, n_freq)``, any ``T``.

    >>> layer = CausalNormalization()
    >>> y = layer(np.ones((1, 50, 101), "float32"))
    >>> tuple(y.shape)
    (1, 50, 101)
    """

    def __init__(
        self,
        mu0: float | Sequence[float] = DEFAULT_MU0,
        sigma0: float | Sequence[float] = DEFAULT_SIGMA0,
        prior_frames: float = DEFAULT_PRIOR_FRAMES,
        eps: float = DEFAULT_EPS,
        delta: float = DEFAULT_DELTA,
        max_hz: float | None = DEFAULT_MAX_HZ,
        n_freq: int = N_FREQ,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if prior_frames <= 0:
            raise ValueError(f"prior_frames must be > 0, got {prior_frames}")
        if eps <= 0 or delta <= 0:
            raise ValueError(f"eps and delta must be > 0, got eps={eps}, delta={delta}")
        self.n_freq = int(n_freq)
        self.mu0 = _per_freq(mu0, self.n_freq, "mu0")
        self.sigma0 = _per_freq(sigma0, self.n_freq, "sigma0")
        self.prior_frames = float(prior_frames)
        self.eps = float(eps)
        self.delta = float(delta)
        self.max_hz = None if max_hz is None else float(max_hz)
        keep = np.ones(self.n_freq, "float32")
        if self.max_hz is not None:
            keep[bin_frequencies_hz(self.n_freq) > self.max_hz] = 0.0
        self.keep = keep
        self.supports_masking = False

    def initial_state(self, batch_size: int = 1):
        """The state before any frame: ``(count, sum, sumsq)`` of shapes (b,1,1), (b,1,F), (b,1,F)."""
        return (
            ops.zeros((batch_size, 1, 1), "float32"),
            ops.zeros((batch_size, 1, self.n_freq), "float32"),
            ops.zeros((batch_size, 1, self.n_freq), "float32"),
        )

    def normalize(self, x, state=None):
        """Normalise ``x`` (batch, T, F) given the ``state`` left by earlier frames (None: start).

        Returns ``(y, new_state)``. ``state`` is ``(count, sum, sumsq)``: the number of frames seen
        and the per-frequency sums of ``z - mu0`` and ``(z - mu0)**2`` (accumulating the deviation from
        the prior keeps float32 sums accurate). Normalising ``x[:, :k]`` and then ``x[:, k:]`` with
        the carried state gives the same ``y`` as normalising ``x`` at once.
        """
        x = ops.cast(ops.convert_to_tensor(x), "float32")
        if len(x.shape) != 3 or (x.shape[-1] is not None and x.shape[-1] != self.n_freq):
            raise ValueError(f"expected input of shape (batch, T, {self.n_freq}), got {tuple(x.shape)}")
        if state is None:
            state = self.initial_state(1)
        count0, sum0, sumsq0 = (ops.cast(ops.convert_to_tensor(s), "float32") for s in state)
        if x.shape[1] == 0:
            return x, (count0, sum0, sumsq0)
        mu0 = ops.convert_to_tensor(self.mu0)
        var0 = ops.convert_to_tensor(self.sigma0**2)
        c = self.prior_frames

        d = ops.log(ops.maximum(x, 0.0) + self.eps) - mu0  # deviation of log power from the prior
        count = count0 + ops.cumsum(ops.ones_like(d[:, :, :1]), axis=1)  # (b, T, 1)
        s1 = sum0 + ops.cumsum(d, axis=1)
        s2 = sumsq0 + ops.cumsum(d * d, axis=1)
        mean = s1 / (c + count)
        var = ops.maximum((c * var0 + s2) / (c + count) - mean * mean, 0.0)
        y = (d - mean) / ops.sqrt(var + self.delta) * ops.convert_to_tensor(self.keep)
        new_state = (count[:, -1:, :], s1[:, -1:, :], s2[:, -1:, :])
        return y, new_state

    def call(self, inputs):
        return self.normalize(inputs)[0]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            mu0=[float(v) for v in self.mu0],
            sigma0=[float(v) for v in self.sigma0],
            prior_frames=self.prior_frames,
            eps=self.eps,
            delta=self.delta,
            max_hz=self.max_hz,
            n_freq=self.n_freq,
        )
        return config
