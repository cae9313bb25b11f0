"""Seeded, vectorised audio augmentation of float32 clips.

Each function does one thing to a mono float32 clip and returns a new float32 clip; random ones take
``rng=`` (a seed or ``numpy.random.Generator``, see :func:`twd_lab.rng.as_generator`). The composed
:class:`WordAugmenter` and :class:`BackgroundAugmenter` are callables ``(clip, rng) -> clip`` for the
synthesis (``synthesize_example(..., augment=WordAugmenter())``).

Why a low-pass on every class: TTS engines render at 8-22 kHz, real microphones record to 20 kHz.
If only some classes were band-limited, a model could tell them apart by the top of the spectrum
instead of by the word, so the augmenters low-pass *every* clip at a random cutoff (3.5-8 kHz).

>>> import numpy as np
>>> clip = np.random.default_rng(0).standard_normal(44_100).astype(np.float32) * 0.1
>>> y = WordAugmenter()(clip, np.random.default_rng(1))
>>> bool(y.dtype == np.float32 and np.isfinite(y).all())
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import scipy.fft
import scipy.signal

from twd_lab.constants import SAMPLE_RATE
from twd_lab.rng import RngLike, as_generator

_EPS = 1e-12


def _as_clip(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D mono clip, got an array of shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    return x.astype(np.float32, copy=False)


def _check_positive(value: float, name: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _check_rate(sample_rate: int) -> int:
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer in Hz, got {sample_rate}")
    return int(sample_rate)


def rms_db(x: np.ndarray) -> float:
    """RMS level of ``x`` in dB relative to full scale 1.0 (-inf-safe: silence gives about -240)."""
    x = np.asarray(x, dtype=np.float64)
    return float(10 * np.log10(np.mean(x**2) + 1e-24)) if x.size else -240.0


# ---------------------------------------------------------------------------------------------
# deterministic transforms


def gain(x: np.ndarray, db: float) -> np.ndarray:
    """Multiply ``x`` by ``db`` decibels (any shape)."""
    db = float(db)
    if not math.isfinite(db):
        raise ValueError(f"db must be finite, got {db}")
    return (np.asarray(x, dtype=np.float32) * np.float32(10 ** (db / 20))).astype(np.float32)


def _resample_to_length(x: np.ndarray, factor: float, n_out: int) -> np.ndarray:
    # polyphase resampling by ~factor (rational approximation), then exact length by crop/pad
    ratio = Fraction(factor).limit_denominator(200)
    y = scipy.signal.resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator)
    if len(y) >= n_out:
        y = y[:n_out]
    else:
        y = np.pad(y, (0, n_out - len(y)))
    return y.astype(np.float32)


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster, like a tape: length / factor, pitch and formants x factor.

    ``len(speed(x, 2.0)) == round(len(x) / 2)``.
    """
    x = _as_clip(x)
    factor = _check_positive(factor, "factor")
    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"factor must be in [0.25, 4], got {factor}")
    n_out = max(1, round(len(x) / factor))
    if factor == 1.0 or x.size == 0:
        return x.copy()
    return _resample_to_length(x, 1.0 / factor, n_out)


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    pad = n_fft // 2
    xp = np.pad(x.astype(np.float64), (pad, pad + n_fft))
    n_frames = 1 + (len(xp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = np.hanning(n_fft + 1)[:-1]
    return np.fft.rfft(xp[idx] * window, axis=1)  # (frames, bins)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    window = np.hanning(n_fft + 1)[:-1]
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    n_frames = frames.shape[0]
    total = n_fft + hop * (n_frames - 1)
    idx = (np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]).ravel()
    out = np.bincount(idx, weights=frames.ravel(), minlength=total)
    norm = np.bincount(idx, weights=np.tile(window**2, n_frames), minlength=total)
    out = out / np.maximum(norm, 1e-3)
    pad = n_fft // 2
    out = out[pad : pad + length]
    return np.pad(out, (0, max(0, length - len(out))))


def time_stretch(x: np.ndarray, rate: float, *, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Change tempo by ``rate`` (>1 faster) keeping pitch: a phase vocoder, vectorised over frames.

    Output length is ``round(len(x) / rate)``.
    """
    x = _as_clip(x)
    rate = _check_positive(rate, "rate")
    if not 0.25 <= rate <= 4.0:
        raise ValueError(f"rate must be in [0.25, 4], got {rate}")
    n_out = max(1, round(len(x) / rate))
    if rate == 1.0 or x.size == 0:
        return x.copy()
    spec = _stft(x, n_fft, hop)
    steps = np.arange(int(np.ceil((spec.shape[0] - 1) / rate))) * rate
    steps = steps[steps < spec.shape[0] - 1]  # float steps: never read past the last frame pair
    i0 = np.floor(steps).astype(int)
    frac = (steps - i0)[:, None]
    mag = (1 - frac) * np.abs(spec[i0]) + frac * np.abs(spec[i0 + 1])
    omega = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    dphi = np.angle(spec[i0 + 1]) - np.angle(spec[i0]) - omega
    dphi = dphi - 2 * np.pi * np.round(dphi / (2 * np.pi)) + omega
    phase = np.angle(spec[0])[None, :] + np.concatenate(
        [np.zeros((1, spec.shape[1])), np.cumsum(dphi, axis=0)[:-1]]
    )
    y = _istft(mag * np.exp(1j * phase), n_fft, hop, n_out)
    return y.astype(np.float32)


def pitch_shift(x: np.ndarray, semitones: float, *, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Shift pitch (and formants) by ``semitones`` keeping the length: stretch, then resample."""
    x = _as_clip(x)
    semitones = float(semitones)
    if not (math.isfinite(semitones) and abs(semitones) <= 24):
        raise ValueError(f"semitones must be within ±24, got {semitones}")
    if semitones == 0 or x.size == 0:
        return x.copy()
    factor = 2 ** (semitones / 12)
    stretched = time_stretch(x, 1 / factor, n_fft=n_fft, hop=hop)
    return _resample_to_length(stretched, 1 / factor, len(x))


def _butterworth_power(f_hz: np.ndarray, cutoff_hz: float, order: int, high: bool) -> np.ndarray:
    # |H(f)|^2 of a Butterworth filter applied forwards and backwards (zero phase)
    ratio = np.maximum(f_hz, 1e-9) / cutoff_hz
    return 1.0 / (1.0 + (1.0 / ratio if high else ratio) ** (2 * order))


def _fft_filter(x: np.ndarray, power: Callable[[np.ndarray], np.ndarray], sample_rate: int) -> np.ndarray:
    # zero-phase filtering in the frequency domain, padded so the ends do not wrap into each other
    n = len(x)
    n_fft = scipy.fft.next_fast_len(n + min(n, sample_rate // 10) + 64, real=True)
    spec = scipy.fft.rfft(x.astype(np.float64), n_fft)
    spec *= power(np.fft.rfftfreq(n_fft, 1 / sample_rate))
    return scipy.fft.irfft(spec, n_fft)[:n].astype(np.float32)


def lowpass(x: np.ndarray, cutoff_hz: float, *, sample_rate: int = SAMPLE_RATE, order: int = 4) -> np.ndarray:
    """Zero-phase low-pass at ``cutoff_hz``: the response of an ``order`` Butterworth filter run
    forwards and backwards (-6·order dB/octave x 2), applied by FFT. No-op at or above Nyquist."""
    x = _as_clip(x)
    sample_rate = _check_rate(sample_rate)
    cutoff_hz = _check_positive(cutoff_hz, "cutoff_hz")
    if cutoff_hz >= sample_rate / 2 or x.size == 0:
        return x.copy()
    return _fft_filter(x, lambda f: _butterworth_power(f, cutoff_hz, order, False), sample_rate)


def highpass(
    x: np.ndarray, cutoff_hz: float, *, sample_rate: int = SAMPLE_RATE, order: int = 2
) -> np.ndarray:
    """Zero-phase high-pass at ``cutoff_hz`` (a small microphone or a phone), applied by FFT."""
    x = _as_clip(x)
    sample_rate = _check_rate(sample_rate)
    cutoff_hz = _check_positive(cutoff_hz, "cutoff_hz")
    if cutoff_hz >= sample_rate / 2:
        raise ValueError(f"cutoff_hz must be below Nyquist ({sample_rate / 2} Hz), got {cutoff_hz}")
    if x.size == 0:
        return x.copy()
    return _fft_filter(x, lambda f: _butterworth_power(f, cutoff_hz, order, True), sample_rate)


def formant_shift(
    x: np.ndarray, factor: float, *, sample_rate: int = SAMPLE_RATE, lifter_ms: float = 1.5
) -> np.ndarray:
    """Move the formants (the spectral envelope) by ``factor`` keeping pitch and length: a crude
    vocal-tract-length change, as if a shorter (>1) or longer (<1) throat said the same thing.

    Per STFT frame the envelope is the cepstrally smoothed log spectrum (quefrencies under
    ``lifter_ms``); the fine (harmonic) structure is kept and the envelope resampled on frequency.
    """
    x = _as_clip(x)
    sample_rate = _check_rate(sample_rate)
    factor = _check_positive(factor, "factor")
    if not 0.5 <= factor <= 2.0:
        raise ValueError(f"factor must be in [0.5, 2], got {factor}")
    if factor == 1.0 or x.size == 0:
        return x.copy()
    n_fft = _fft_size(sample_rate)
    hop = n_fft // 4
    spec = _stft(x, n_fft, hop)
    mag = np.abs(spec)
    cep = np.fft.irfft(np.log(mag + 1e-9), n=n_fft, axis=1)
    keep = max(2, int(lifter_ms * sample_rate / 1000))
    cep[:, keep : n_fft - keep + 1] = 0.0
    env = np.exp(np.fft.rfft(cep, axis=1).real)
    src = np.arange(mag.shape[1]) / factor
    i0 = np.minimum(np.floor(src).astype(int), mag.shape[1] - 2)
    frac = np.clip(src - i0, 0.0, 1.0)
    warped = env[:, i0] * (1 - frac) + env[:, i0 + 1] * frac
    warped[:, src > mag.shape[1] - 1] = env[:, -1:].min() * 1e-3  # nothing above the old top
    y = _istft(spec / np.maximum(env, 1e-12) * warped, n_fft, hop, len(x))
    src_rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    out_rms = np.sqrt(np.mean(y**2))
    if out_rms > _EPS:
        y *= src_rms / out_rms
    return y.astype(np.float32)


def equalize(x: np.ndarray, curve_db: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Apply a gain curve ``curve_db`` (dB at equally spaced frequencies 0..Nyquist) in the FFT domain."""
    x = _as_clip(x)
    sample_rate = _check_rate(sample_rate)
    curve_db = np.asarray(curve_db, dtype=np.float64)
    if curve_db.ndim != 1 or curve_db.size < 2 or not np.isfinite(curve_db).all():
        raise ValueError(
            f"curve_db must be a finite 1-D array of at least 2 points, got shape {curve_db.shape}"
        )
    if x.size == 0:
        return x.copy()
    spec = np.fft.rfft(x.astype(np.float64))
    f = np.linspace(0, 1, spec.size)
    g = 10 ** (np.interp(f, np.linspace(0, 1, curve_db.size), curve_db) / 20)
    return np.fft.irfft(spec * g, n=len(x)).astype(np.float32)


def room_impulse_response(
    rt60_s: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    drr_db: float = 6.0,
    predelay_ms: float = 5.0,
    rng: RngLike = None,
) -> np.ndarray:
    """A synthetic room impulse response: a direct impulse, then exponentially decaying noise whose
    highs die faster than its lows, reaching -60 dB at ``rt60_s``. ``drr_db`` is the direct-to-
    reverberant energy ratio. Peak-free: the direct path has amplitude 1."""
    rng = as_generator(rng)
    sample_rate = _check_rate(sample_rate)
    rt60_s = _check_positive(rt60_s, "rt60_s")
    if rt60_s > 5:
        raise ValueError(f"rt60_s must be at most 5 s, got {rt60_s}")
    n = int(rt60_s * sample_rate) + 1
    d = int(predelay_ms * sample_rate / 1000)
    t = np.arange(n) / sample_rate
    noise = rng.standard_normal(n)
    # two bands decaying at different rates: air and walls absorb highs faster
    sos = scipy.signal.butter(2, min(3000.0, sample_rate / 2 * 0.9), fs=sample_rate, output="sos")
    low = scipy.signal.sosfilt(sos, noise)
    high = noise - low
    tail = low * np.exp(-6.9 * t / rt60_s) + high * np.exp(-6.9 * t / (0.5 * rt60_s))
    tail[: min(n, max(1, int(0.002 * sample_rate)))] *= np.linspace(
        0, 1, min(n, max(1, int(0.002 * sample_rate)))
    )
    tail_energy = np.sum(tail**2) + _EPS
    tail *= np.sqrt(10 ** (-drr_db / 10) / tail_energy)
    h = np.zeros(n + d)
    h[0] = 1.0
    h[d:] += tail
    return h.astype(np.float32)


def reverb(
    x: np.ndarray,
    rir: np.ndarray,
    *,
    tail_s: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
    keep_level: bool = True,
) -> np.ndarray:
    """Convolve ``x`` with the room response ``rir`` (FFT convolution), keeping ``tail_s`` seconds of
    the reverberant tail after the clip. With ``keep_level`` the RMS of the result equals that of ``x``."""
    x = _as_clip(x)
    rir = _as_clip(rir, "rir")
    if rir.size == 0:
        raise ValueError("rir must not be empty")
    if tail_s < 0:
        raise ValueError(f"tail_s must be >= 0, got {tail_s}")
    if x.size == 0:
        return x.copy()
    n_out = min(len(x) + len(rir) - 1, len(x) + int(tail_s * _check_rate(sample_rate)))
    y = scipy.signal.fftconvolve(x.astype(np.float64), rir.astype(np.float64))[:n_out]
    if keep_level:
        src = np.sqrt(np.mean(x.astype(np.float64) ** 2))
        out = np.sqrt(np.mean(y[: len(x)] ** 2))
        if out > _EPS and src > _EPS:
            y *= src / out
    return y.astype(np.float32)


def add_noise(x: np.ndarray, noise: np.ndarray | None, snr_db: float, *, rng: RngLike = None) -> np.ndarray:
    """Add ``noise`` (tiled or cut to the clip's length from a random offset; ``None``: white noise)
    scaled so that the signal-to-noise ratio is ``snr_db`` dB. A silent clip comes back unchanged."""
    x = _as_clip(x)
    snr_db = float(snr_db)
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    rng = as_generator(rng)
    if x.size == 0:
        return x.copy()
    if noise is None:
        n = rng.standard_normal(len(x))
    else:
        noise = _as_clip(noise, "noise").astype(np.float64)
        if noise.size == 0:
            raise ValueError("noise must not be empty")
        reps = -(-len(x) // len(noise)) + 1
        start = int(rng.integers(len(noise)))
        n = np.tile(noise, reps)[start : start + len(x)]
    p_x = np.mean(x.astype(np.float64) ** 2)
    p_n = np.mean(n**2)
    if p_x < 1e-20 or p_n < 1e-20:
        return x.copy()
    scale = np.sqrt(p_x / (p_n * 10 ** (snr_db / 10)))
    return (x + scale * n).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# random versions


def random_eq_curve(max_db: float = 6.0, n_points: int = 8, *, rng: RngLike = None) -> np.ndarray:
    """A smooth random gain curve (dB) over ``n_points`` frequencies from 0 to Nyquist."""
    rng = as_generator(rng)
    pts = rng.uniform(-max_db, max_db, n_points)
    return np.convolve(np.pad(pts, 1, mode="edge"), np.ones(3) / 3, mode="valid")


def random_rir(
    rt60_range: tuple[float, float] = (0.1, 0.7),
    drr_range_db: tuple[float, float] = (0.0, 15.0),
    *,
    sample_rate: int = SAMPLE_RATE,
    rng: RngLike = None,
) -> np.ndarray:
    """A :func:`room_impulse_response` with random RT60 and direct-to-reverberant ratio."""
    rng = as_generator(rng)
    rt60 = rng.uniform(*rt60_range)
    drr = rng.uniform(*drr_range_db)
    pre = rng.uniform(1.0, 15.0)
    return room_impulse_response(rt60, sample_rate=sample_rate, drr_db=drr, predelay_ms=pre, rng=rng)


@dataclasses.dataclass
class WordAugmenter:
    """Random augmentation for one inserted word: a callable ``(clip, rng) -> clip``.

    In order: tape speed, tempo, pitch shift, formant shift, random EQ, high-pass, room reverb
    (each with its probability), the always-on random low-pass (see module docstring), and a
    gain. Ranges are the defaults
    below; set a probability to 0 to switch a step off. Clips are at ``sample_rate`` (the lab's
    44.1 kHz after loading).
    """

    sample_rate: int = SAMPLE_RATE
    p_speed: float = 0.5
    speed_range: tuple[float, float] = (0.9, 1.12)
    p_tempo: float = 0.3
    tempo_range: tuple[float, float] = (0.85, 1.2)
    p_pitch: float = 0.4
    pitch_range_semitones: tuple[float, float] = (-3.0, 3.0)
    p_formant: float = 0.4
    formant_range: tuple[float, float] = (0.85, 1.18)
    p_eq: float = 0.7
    eq_max_db: float = 6.0
    p_highpass: float = 0.3
    highpass_range_hz: tuple[float, float] = (60.0, 300.0)
    p_reverb: float = 0.5
    rt60_range_s: tuple[float, float] = (0.1, 0.6)
    drr_range_db: tuple[float, float] = (2.0, 15.0)
    reverb_tail_s: float = 0.1
    p_lowpass: float = 1.0
    lowpass_range_hz: tuple[float, float] = (3500.0, 8000.0)
    gain_range_db: tuple[float, float] = (-6.0, 6.0)

    def __call__(self, clip: np.ndarray, rng: RngLike = None) -> np.ndarray:
        rng = as_generator(rng)
        x = _as_clip(clip, "clip")
        sr = self.sample_rate
        # draw every random number up front, in a fixed order, so a step switched off by its
        # probability does not shift the numbers the later steps get
        u = rng.random(8)  # one coin per step, in the order below
        spd = rng.uniform(*self.speed_range)
        tempo = rng.uniform(*self.tempo_range)
        semis = rng.uniform(*self.pitch_range_semitones)
        formant = rng.uniform(*self.formant_range)
        hp = rng.uniform(*self.highpass_range_hz)
        lp = rng.uniform(*self.lowpass_range_hz)
        g = rng.uniform(*self.gain_range_db)
        sub = np.random.default_rng(rng.integers(2**63))  # for the EQ curve and the room
        if x.size == 0:
            return x.copy()
        n_fft = _fft_size(sr)
        if u[0] < self.p_speed:
            x = speed(x, spd)
        if u[1] < self.p_tempo:
            x = time_stretch(x, tempo, n_fft=n_fft, hop=n_fft // 4)
        if u[2] < self.p_pitch:
            x = pitch_shift(x, semis, n_fft=n_fft, hop=n_fft // 4)
        if u[3] < self.p_formant:
            x = formant_shift(x, formant, sample_rate=sr)
        if u[4] < self.p_eq:
            x = equalize(x, random_eq_curve(self.eq_max_db, rng=sub), sample_rate=sr)
        if u[5] < self.p_highpass:
            x = highpass(x, hp, sample_rate=sr)
        if u[6] < self.p_reverb:
            rir = random_rir(self.rt60_range_s, self.drr_range_db, sample_rate=sr, rng=sub)
            x = reverb(x, rir, tail_s=self.reverb_tail_s, sample_rate=sr)
        if u[7] < self.p_lowpass:
            x = lowpass(x, lp, sample_rate=sr)
        return gain(x, g)


@dataclasses.dataclass
class BackgroundAugmenter:
    """Random augmentation for a background: EQ, the same random low-pass as words, and a gain."""

    sample_rate: int = SAMPLE_RATE
    p_eq: float = 0.7
    eq_max_db: float = 6.0
    p_lowpass: float = 1.0
    lowpass_range_hz: tuple[float, float] = (3500.0, 8000.0)
    gain_range_db: tuple[float, float] = (-6.0, 6.0)

    def __call__(self, clip: np.ndarray, rng: RngLike = None) -> np.ndarray:
        rng = as_generator(rng)
        x = _as_clip(clip, "clip")
        u = rng.random(2)
        lp = rng.uniform(*self.lowpass_range_hz)
        g = rng.uniform(*self.gain_range_db)
        curve = random_eq_curve(self.eq_max_db, rng=rng)
        if x.size == 0:
            return x.copy()
        if u[0] < self.p_eq:
            x = equalize(x, curve, sample_rate=self.sample_rate)
        if u[1] < self.p_lowpass:
            x = lowpass(x, lp, sample_rate=self.sample_rate)
        return gain(x, g)


def make_word_augment(**ranges) -> WordAugmenter:
    """A :class:`WordAugmenter` with some of its ranges or probabilities changed."""
    return WordAugmenter(**ranges)


def _fft_size(sample_rate: int) -> int:
    # ~32 ms windows whatever the rate: 512 at 16 kHz, 1024 at 44.1 kHz
    return 1 << round(math.log2(0.032 * sample_rate))
