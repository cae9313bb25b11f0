"""Audio I/O and loudness: audio files in, float32 NumPy arrays out, pydub where the lab used it.

Samples are float32 in [-1, 1] (full scale = 1.0) at ``SAMPLE_RATE`` (44.1 kHz) unless said otherwise.
pydub ``AudioSegment`` works wherever the lab used it (:func:`match_target_amplitude`,
:func:`load_raw_audio`), but the heavy lifting is NumPy. Files are decoded by :mod:`twd_lab.decoding`
(``soundfile``/libsndfile): WAV in every PCM and float form (8-bit unsigned, 16/24/32-bit integer, 32/64-bit
float, A-law, mu-law, plain or ``WAVE_FORMAT_EXTENSIBLE``, ffmpeg's piped WAV), FLAC, OGG and MP3, mono or
stereo, at 4-384 kHz, all load the same way, and a broken file raises :class:`AudioFileError` naming the
path and what is wrong. Long files are read in blocks with :func:`twd_lab.decoding.read_blocks`.

Channels are mixed to mono by averaging them (what pydub's ``set_channels(1)`` does). The lab's
``graph_spectrogram`` reads only channel 0 of a stereo file; :mod:`twd_lab.spectrogram` keeps that.
"""

from __future__ import annotations

import math
import os
import struct  # only for the error scipy.io.wavfile raises on a short header
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twd_lab.constants import CLIP_SAMPLES, SAMPLE_RATE
from twd_lab.decoding import AudioFileError, check_source, int_to_float, read_all, resample

if TYPE_CHECKING:  # pydub is imported lazily: it warns about ffmpeg on import
    from pydub import AudioSegment

PathLike = str | os.PathLike

_RAW_FOLDERS = ("activates", "negatives", "backgrounds")

__all__ = [
    "AudioFileError",
    "apply_gain",
    "dbfs",
    "fit_to_clip",
    "get_wav_info",
    "load_raw_audio",
    "match_target_amplitude",
    "read_wav",
    "read_wav_raw",
    "resample",
    "to_samples",
    "to_segment",
    "write_wav",
]


# --------------------------------------------------------------------------------------------- reading


def read_wav_raw(path: PathLike) -> tuple[np.ndarray, int]:
    """Read an audio file as it is stored: ``(samples, sample_rate)``.

    ``samples`` is float32 of shape ``(n_samples, n_channels)`` in [-1, 1], whatever the encoding
    (WAV 8-bit unsigned, 16/24/32-bit integer, 32/64-bit float, A-law, mu-law; FLAC, OGG, MP3; float
    values outside [-1, 1] are clipped).

    Raises :class:`AudioFileError` (a ``ValueError``) for an empty, truncated or non-audio file, NaN or
    infinite samples, or a rate outside 4-384 kHz, and ``FileNotFoundError`` for a missing one.

    >>> x, rate = read_wav_raw("clip.wav")  # doctest: +SKIP
    """
    return read_all(path)


def read_wav(path: PathLike, *, sample_rate: int = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read an audio file as float32 at ``sample_rate``: shape ``(n,)`` if ``mono`` else ``(n, channels)``.

    Stereo is mixed to mono by averaging the channels (as pydub does); the rate is converted with
    :func:`resample`. For a long file, :func:`twd_lab.decoding.read_blocks` gives the same samples in blocks.

    >>> x = read_wav("clip.wav")  # doctest: +SKIP
    >>> x.dtype, x.ndim
    (dtype('float32'), 1)
    """
    x, rate = read_wav_raw(path)
    if mono:
        x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
    return resample(x, rate, sample_rate)


#: soundfile subtypes -> the NumPy type scipy.io.wavfile gives such a WAV.
_NATIVE = {"PCM_U8": "uint8", "PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32", "DOUBLE": "float64"}


def get_wav_info(wav_file: PathLike) -> tuple[int, np.ndarray]:
    """The lab's helper: ``(rate, data)`` exactly as ``scipy.io.wavfile.read`` returns them.

    ``data`` keeps the file's own type and values (int16 for 16-bit files), shape ``(n,)`` for mono and
    ``(n, channels)`` for more. Files scipy cannot read (FLAC, MP3, A-law WAV, ...) come from the decoder
    in the nearest type (float32 for compressed audio). A broken file raises :class:`AudioFileError`.
    """
    from scipy.io import wavfile

    p = check_source(wav_file, "wav_file")
    try:
        with warnings.catch_warnings():
            # scipy only warns about a truncated file (and returns part of it): let the decoder judge it
            warnings.simplefilter("error", wavfile.WavFileWarning)
            rate, data = wavfile.read(p)
    except (ValueError, EOFError, OSError, struct.error, wavfile.WavFileWarning):
        # not a WAV scipy reads: the decoder reads it, or says in one line what is wrong
        import soundfile as sf

        x, rate = read_all(p, "wav_file")
        kind = _NATIVE.get(sf.info(str(p)).subtype, "float32")
        if kind != "float32" and kind != "float64":
            x = _float_to_int(x, np.dtype(kind))
        data = x.astype(kind, copy=False)
        if data.shape[1] == 1:
            data = data[:, 0]
    if data.size == 0:
        raise AudioFileError(f"{p}: the WAV file holds no audio samples (empty data chunk)")
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise AudioFileError(f"{p}: holds NaN or infinite samples; the file is broken")
    return rate, data


def _float_to_int(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    if info.min == 0:  # 8-bit: unsigned around 128
        return np.round(x.astype(np.float64) * 128.0 + 128.0).clip(0, 255)
    return np.round(x.astype(np.float64) * -float(info.min)).clip(info.min, info.max)


# --------------------------------------------------------------------------------------------- writing


def write_wav(
    path: PathLike, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, *, overwrite: bool = False
) -> Path:
    """Write float samples in [-1, 1] (shape ``(n,)`` or ``(n, channels)``) as a 16-bit PCM WAV file.

    Values outside [-1, 1] are clipped. An existing file is never replaced unless ``overwrite=True``
    (``FileExistsError`` otherwise). Returns the path written.
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(f"samples must be a non-empty array of shape (n,) or (n, channels), got {x.shape}")
    if not float(sample_rate).is_integer() or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    import soundfile as sf

    pcm = np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    p = Path(path)
    try:
        with open(p, "wb" if overwrite else "xb") as f:
            sf.write(f, pcm, int(sample_rate), subtype="PCM_16", format="WAV")
    except FileExistsError:
        raise FileExistsError(
            f"{p} already exists; write_wav never replaces a file unless overwrite=True"
        ) from None
    return p


# ------------------------------------------------------------------------------------------- loudness


def dbfs(samples: np.ndarray) -> float:
    """Loudness in dB relative to full scale: ``20 log10(rms)`` over all samples (all channels, as pydub).

    Silence (or an empty array) gives ``-inf``.
    """
    x = np.asarray(samples, dtype=np.float32).ravel()
    if x.size == 0:
        return -math.inf
    ms = float(np.dot(x, x)) / x.size
    return 10.0 * math.log10(ms) if ms > 0.0 else -math.inf


def apply_gain(samples: np.ndarray, db: float) -> np.ndarray:
    """Return ``samples`` scaled by ``db`` decibels, as float32 (the input is not changed)."""
    if not math.isfinite(db):
        raise ValueError(f"db must be a finite number of decibels, got {db!r}")
    return np.multiply(samples, np.float32(10.0 ** (db / 20.0)), dtype=np.float32)


def _is_segment(obj: Any) -> bool:
    return type(obj).__name__ == "AudioSegment" and hasattr(obj, "apply_gain")


def match_target_amplitude(sound, target_dBFS: float):
    """The lab's helper: return ``sound`` with its loudness set to ``target_dBFS``.

    Works on a pydub ``AudioSegment`` (returns one, like the lab) and on an array of samples (returns a
    new float32 array; NaN or infinity is refused, naming ``sound``). Silence has no loudness to match
    (-inf dBFS): it is returned unchanged instead of turning into NaN or infinity.
    """
    if not math.isfinite(target_dBFS):
        raise ValueError(f"target_dBFS must be a finite number, got {target_dBFS!r}")
    if _is_segment(sound):
        level = sound.dBFS
        return sound if not math.isfinite(level) else sound.apply_gain(target_dBFS - level)
    from twd_lab.validation import sample_array

    x = sample_array(sound, "sound")  # numeric, (n,) or (n, channels), finite; integers scaled
    level = dbfs(x)
    return x.copy() if not math.isfinite(level) else apply_gain(x, target_dBFS - level)


# --------------------------------------------------------------------------------------------- pydub


def _pydub():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
        import pydub

    return pydub


def to_segment(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """Float samples (mono ``(n,)``) -> a 16-bit mono pydub ``AudioSegment``."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"samples must have shape (n,) or (n, channels), got {x.shape}")
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    return _pydub().AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=int(sample_rate), channels=1)


def to_samples(segment: AudioSegment) -> np.ndarray:
    """A pydub ``AudioSegment`` -> float32 mono samples at ``SAMPLE_RATE`` (channels averaged)."""
    if not _is_segment(segment):
        raise TypeError(f"segment must be a pydub AudioSegment, got {type(segment).__name__}")
    width, channels = segment.sample_width, segment.channels
    raw = segment.raw_data
    if width in (1, 2, 4):  # pydub keeps 8-bit audio signed internally
        x = int_to_float(np.frombuffer(raw, {1: np.int8, 2: "<i2", 4: "<i4"}[width]))
    elif width == 3:  # 24-bit: each sample's 3 bytes as the top of an int32
        b = np.zeros((len(raw) // 3, 4), np.uint8)
        b[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        x = int_to_float(b.view("<i4").reshape(-1))
    else:
        raise ValueError(f"unsupported AudioSegment sample_width {width}")
    x = x.reshape(-1, channels)
    x = x[:, 0] if channels == 1 else x.mean(axis=1, dtype=np.float32)
    return resample(x, segment.frame_rate, SAMPLE_RATE)


# ---------------------------------------------------------------------------------------- raw folders


def fit_to_clip(samples: np.ndarray, n_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """Return exactly ``n_samples`` samples: longer input is trimmed, shorter input is looped.

    Looping (not zero padding) keeps a short background sounding like itself for the whole clip.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"samples must be a non-empty 1-D array, got shape {x.shape}")
    if x.size >= n_samples:
        return x[:n_samples]
    return np.resize(x, n_samples)  # np.resize repeats the input to fill


def _wav_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav"), key=lambda p: p.name
    )


def load_raw_audio(path: PathLike | None = None, *, as_arrays: bool = False):
    """The lab's loader: ``(activates, negatives, backgrounds)`` from a lab-style folder.

    ``path`` holds ``activates/``, ``negatives/`` and ``backgrounds/`` with ``.wav`` files (read in name
    order, so the result is deterministic). ``None`` loads the bundled assets. Every clip is converted
    to one form: mono (channels averaged), 44.1 kHz. Backgrounds are made exactly 10 s long (trimmed, or
    looped if shorter).

    Returns lists of pydub ``AudioSegment`` (16-bit mono, as the lab's code expects) or, with
    ``as_arrays=True``, float32 arrays (the fast path used by :mod:`twd_lab.synthesis`).
    """
    if path is None:
        from twd_lab.assets_index import bundled_raw_dir

        root = Path(bundled_raw_dir())
    else:
        root = Path(path)
    if not root.is_dir():
        what = f"{root} is a file" if root.exists() else f"the folder {root} does not exist"
        raise FileNotFoundError(
            f"path: expected a folder with {', '.join(f + '/' for f in _RAW_FOLDERS)} subfolders, but {what}"
        )
    result = []
    for name in _RAW_FOLDERS:
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(
                f"path: {root} has no {name}/ subfolder (expected {', '.join(_RAW_FOLDERS)})"
            )
        files = _wav_files(folder)
        if not files:
            raise ValueError(f"path: {folder} holds no .wav files; at least one is needed")
        clips = [read_wav(f) for f in files]
        if name == "backgrounds":
            clips = [fit_to_clip(c) for c in clips]
        result.append(clips if as_arrays else [to_segment(c) for c in clips])
    return tuple(result)
