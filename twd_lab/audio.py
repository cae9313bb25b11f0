"""Audio I/O and loudness: WAV files in, float32 NumPy arrays out, pydub where the lab used it.

Samples are float32 in [-1, 1] (full scale = 1.0) at ``SAMPLE_RATE`` (44.1 kHz) unless said otherwise.
pydub ``AudioSegment`` works wherever the lab used it (:func:`match_target_amplitude`,
:func:`load_raw_audio`), but the heavy lifting is NumPy: :func:`read_wav_raw` parses the WAV itself, so
8-bit (unsigned), 16/24/32-bit integer and 32/64-bit float files, plain or ``WAVE_FORMAT_EXTENSIBLE``,
mono or stereo, at any rate, load the same way, and a broken file raises :class:`AudioFileError` naming
the path and what is wrong.

Channels are mixed to mono by averaging them (what pydub's ``set_channels(1)`` does). The lab's
``graph_spectrogram`` reads only channel 0 of a stereo file; :mod:`twd_lab.spectrogram` keeps that.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twd_lab.constants import CLIP_SAMPLES, SAMPLE_RATE

if TYPE_CHECKING:  # pydub is imported lazily: it warns about ffmpeg on import
    from pydub import AudioSegment

PathLike = str | os.PathLike

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_RAW_FOLDERS = ("activates", "negatives", "backgrounds")


class AudioFileError(ValueError):
    """A file that is not a readable WAV: not RIFF/WAVE, truncated, empty or an unsupported encoding."""


# --------------------------------------------------------------------------------------------- reading


def _int24_to_float(data: bytes) -> np.ndarray:
    """Little-endian signed 24-bit samples -> float32 in [-1, 1)."""
    b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    return np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float32) / float(1 << 23)


def _parse_wav(path: Path, raw: bytes) -> tuple[np.ndarray, int]:
    """Return (float32 (n, channels), rate) from the bytes of a WAV file."""

    def fail(what: str) -> AudioFileError:
        return AudioFileError(f"{path}: {what}")

    if len(raw) == 0:
        raise fail("the file is empty (0 bytes), expected a RIFF/WAVE file")
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        head = raw[:12]
        raise fail(f"not a WAV file: expected a 'RIFF....WAVE' header, got {head!r}")
    fmt = None
    data = None
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = struct.unpack_from("<4sI", raw, pos)
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(raw):
                raise fail(f"truncated 'fmt ' chunk ({size} bytes declared, 16 needed)")
            tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", raw, body)
            if tag == _EXTENSIBLE:
                if size < 40 or body + 40 > len(raw):
                    raise fail("truncated WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk")
                tag = struct.unpack_from("<H", raw, body + 24)[0]  # first 2 bytes of the SubFormat GUID
            fmt = (tag, channels, rate, block_align, bits)
        elif cid == b"data":
            available = len(raw) - body
            if size > available:
                raise fail(
                    f"truncated: the data chunk declares {size} bytes but only {available} are in the file"
                )
            data = raw[body : body + size]
            if fmt is not None:
                break
        pos = body + size + (size & 1)  # chunks are padded to an even length
    if fmt is None:
        raise fail("no 'fmt ' chunk: not a valid WAV file (or it is truncated)")
    if data is None:
        raise fail("no 'data' chunk: the WAV file holds no audio (or it is truncated)")
    tag, channels, rate, block_align, bits = fmt
    if channels < 1 or rate < 1:
        raise fail(f"invalid format: {channels} channels at {rate} Hz")
    width = bits // 8
    if bits % 8 or width == 0:
        raise fail(f"unsupported sample size: {bits} bits")
    block = channels * width
    frames = len(data) // block
    if frames == 0:
        raise fail("the WAV file holds no audio samples (empty data chunk)")
    data = data[: frames * block]
    if tag == _PCM and width == 1:  # 8-bit WAV is unsigned
        x = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _PCM and width == 2:
        x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    elif tag == _PCM and width == 3:
        x = _int24_to_float(data)
    elif tag == _PCM and width == 4:
        x = (np.frombuffer(data, "<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    elif tag == _FLOAT and width in (4, 8):
        x = np.frombuffer(data, "<f4" if width == 4 else "<f8").astype(np.float32)
        x = np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    else:
        kind = {_PCM: "integer PCM", _FLOAT: "float"}.get(tag, f"format tag 0x{tag:04x}")
        raise fail(
            f"unsupported encoding: {bits}-bit {kind} (expected 8/16/24/32-bit PCM or 32/64-bit float)"
        )
    return x.reshape(frames, channels), int(rate)


def _existing_file(path: PathLike, name: str = "path") -> Path:
    p = Path(path)
    if not p.exists():
        from twd_lab.validation import missing_reason

        raise FileNotFoundError(f"{name}: cannot read {p}: {missing_reason(p)}")
    if p.is_dir():
        raise IsADirectoryError(f"{name}: expected a WAV file, got a folder: {p}")
    return p


def read_wav_raw(path: PathLike) -> tuple[np.ndarray, int]:
    """Read a WAV file as it is stored: ``(samples, sample_rate)``.

    ``samples`` is float32 of shape ``(n_samples, n_channels)`` in [-1, 1], whatever the encoding
    (8-bit unsigned, 16/24/32-bit integer, 32/64-bit float; float values outside [-1, 1] are clipped).

    Raises :class:`AudioFileError` (a ``ValueError``) for an empty, truncated or non-WAV file and
    ``FileNotFoundError`` for a missing one.

    >>> x, rate = read_wav_raw("clip.wav")  # doctest: +SKIP
    """
    p = _existing_file(path)
    return _parse_wav(p, p.read_bytes())


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample along axis 0 from ``from_rate`` to ``to_rate`` Hz (polyphase, ``scipy.signal.resample_poly``).

    Returns float32; the input is returned as float32 unchanged when the rates are equal.
    """
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if not float(rate).is_integer() or rate <= 0:
            raise ValueError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    x = np.asarray(samples, dtype=np.float32)
    from_rate, to_rate = int(from_rate), int(to_rate)
    if from_rate == to_rate:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(from_rate, to_rate)
    return resample_poly(x, to_rate // g, from_rate // g, axis=0).astype(np.float32, copy=False)


def read_wav(path: PathLike, *, sample_rate: int = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read a WAV file as float32 at ``sample_rate``: shape ``(n,)`` if ``mono`` else ``(n, channels)``.

    Stereo is mixed to mono by averaging the channels (as pydub does); the rate is converted with
    :func:`resample`.

    >>> x = read_wav("clip.wav")  # doctest: +SKIP
    >>> x.dtype, x.ndim
    (dtype('float32'), 1)
    """
    x, rate = read_wav_raw(path)
    if mono:
        x = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float32)
    return resample(x, rate, sample_rate)


def get_wav_info(wav_file: PathLike) -> tuple[int, np.ndarray]:
    """The lab's helper: ``(rate, data)`` exactly as ``scipy.io.wavfile.read`` returns them.

    ``data`` keeps the file's own type and values (int16 for 16-bit files), shape ``(n,)`` for mono and
    ``(n, channels)`` for more. A broken file raises :class:`AudioFileError`.
    """
    from scipy.io import wavfile

    p = _existing_file(wav_file, "wav_file")
    try:
        with warnings.catch_warnings():
            # scipy only warns about a truncated file (and returns part of it): make that an error
            warnings.simplefilter("error", wavfile.WavFileWarning)
            try:
                rate, data = wavfile.read(p)
            except wavfile.WavFileWarning:
                _parse_wav(p, p.read_bytes())  # raises AudioFileError if the file is broken
                # our parser found nothing wrong: the warning was harmless (an odd chunk, say)
                warnings.simplefilter("ignore", wavfile.WavFileWarning)
                rate, data = wavfile.read(p)
    except (ValueError, EOFError, struct.error, OSError) as exc:
        # scipy's messages are terse; our own parser says what is wrong, or repeats scipy's reason.
        try:
            _parse_wav(p, p.read_bytes())
        except AudioFileError as ours:
            raise ours from exc
        raise AudioFileError(f"{p}: scipy.io.wavfile cannot read it: {exc}") from exc
    if data.size == 0:
        raise AudioFileError(f"{p}: the WAV file holds no audio samples (empty data chunk)")
    return rate, data


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
    channels = 1 if x.ndim == 1 else x.shape[1]
    pcm = np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype("<i2")
    payload = pcm.tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(payload),
        b"WAVE",
        b"fmt ",
        16,
        _PCM,
        channels,
        int(sample_rate),
        int(sample_rate) * channels * 2,
        channels * 2,
        16,
        b"data",
        len(payload),
    )
    p = Path(path)
    try:
        with open(p, "wb" if overwrite else "xb") as f:
            f.write(header)
            f.write(payload)
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
    if width == 1:  # pydub keeps 8-bit audio signed internally
        x = np.frombuffer(raw, np.int8).astype(np.float32) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        x = _int24_to_float(raw)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / 2.0**31).astype(np.float32)
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
        what = "a file" if root.exists() else "missing"
        raise FileNotFoundError(
            f"path: expected a folder with {', '.join(f + '/' for f in _RAW_FOLDERS)} subfolders, "
            f"but {root} is {what}"
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
