"""Audio files in, float32 blocks out: a maintained decoder, refusals at the door, a block resampler.

:func:`open_audio` reads WAV in every PCM and float form (8-bit unsigned, 16/24/32-bit integer, 32/64-bit
float, A-law, mu-law, plain or ``WAVE_FORMAT_EXTENSIBLE``, and ffmpeg's piped WAV whose sizes are
0xFFFFFFFF), FLAC, OGG (Vorbis, Opus) and MP3 through ``soundfile`` (libsndfile ships inside its wheels).
M4A/AAC/WebM need the optional PyAV package (``pip install av``); without it the error says so in one line.

Before any work, a file is refused with one line naming it (:class:`~twd_lab.audio.AudioFileError`, a
``ValueError``) when it is not a regular file (a FIFO named ``x.wav`` would block forever, ``/dev/zero``
never ends), is empty, declares a sample rate outside 4-384 kHz (a 40 KB file that declares 1 Hz would be
resampled into hours), or is not audio. A sample that is NaN or infinite is an error too, never silence.

Files are read in blocks (:meth:`AudioSource.blocks`) and resampled block by block
(:class:`BlockResampler`, the same numbers as ``scipy.signal.resample_poly`` on the whole signal), so
memory does not grow with the length of a file: :func:`read_blocks` is what the detectors are fed.
"""

from __future__ import annotations

import functools
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twd_lab.constants import SAMPLE_RATE

PathLike = str | os.PathLike

#: Sample rates a file may declare, in Hz: below 4 kHz no speech is left, above 384 kHz no recorder goes.
MIN_RATE, MAX_RATE = 4_000, 384_000
#: Seconds per block when a file is read block by block.
BLOCK_S = 10.0
PYAV_HINT = "pip install av (the optional PyAV decoder; or convert it: ffmpeg -i FILE out.wav)"
#: File names the decoder reads as audio (M4A/AAC/MP4/WebM with PyAV), for picking audio out of a folder.
AUDIO_SUFFIXES = (
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
    ".m4a", ".aac", ".mp4", ".webm",
)  # fmt: skip

__all__ = [
    "AUDIO_SUFFIXES",
    "BLOCK_S",
    "MAX_RATE",
    "MIN_RATE",
    "AudioFileError",
    "AudioInfo",
    "AudioSource",
    "BlockResampler",
    "audio_info",
    "check_source",
    "int_to_float",
    "open_audio",
    "read_all",
    "read_blocks",
    "resample",
]


class AudioFileError(ValueError):
    """A file that is not readable audio: not a regular file, empty, truncated, not audio, an unsupported
    encoding, a sample rate outside 4-384 kHz, or NaN/infinite samples. The message names the file."""


class AudioInfo(NamedTuple):
    """What a file declares: ``frames`` per channel (``None`` when the container does not say)."""

    path: Path
    sample_rate: int
    channels: int
    frames: int | None
    format: str
    subtype: str

    @property
    def duration_s(self) -> float | None:
        return None if self.frames is None else self.frames / self.sample_rate


# ----------------------------------------------------------------------------------------- the door


def check_source(path: PathLike, name: str = "path") -> Path:
    """``path`` as a Path if it is a regular, non-empty file; else raise one line saying what it is.

    ``FileNotFoundError`` (missing), ``IsADirectoryError`` (a folder) or :class:`AudioFileError` (a FIFO,
    a device, a socket, an empty file). Nothing is opened, so a FIFO cannot block.
    """
    p = Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):  # the latter: a parent on the path is a file
        from twd_lab.validation import missing_reason

        raise FileNotFoundError(f"{name}: cannot read {p}: {missing_reason(p)}") from None
    except OSError as exc:
        raise AudioFileError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{name}: expected an audio file, got a folder: {p}")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise AudioFileError(f"{p}: is {kind}, not an audio file; save the audio to a file first")
    if st.st_size == 0:
        raise AudioFileError(f"{p}: the file is empty (0 bytes), expected a WAV or other audio file")
    return p


def _sniff(p: Path) -> str | None:
    """The container a file's first bytes show, where soundfile cannot read it (for the message)."""
    with open(p, "rb") as f:
        head = f.read(16)
    if head[4:8] == b"ftyp":
        return "M4A/MP4 (AAC)"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "WebM/Matroska"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "AAC (ADTS)"
    return None


_DATA_LOG = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncated(sf_file) -> str | None:
    """libsndfile's own log says when a WAV's data chunk declares more bytes than the file holds; 0 and
    0xFFFFFFFF are the sizes of a WAV written to a pipe (ffmpeg), read to the end of the file."""
    m = _DATA_LOG.search(getattr(sf_file, "extra_info", "") or "")
    if m is None:
        return None
    declared, present = int(m.group(1)), int(m.group(2))
    if declared in (0, 0xFFFFFFFF, 0xFFFFFFFE) or declared <= present:
        return None
    return f"truncated: the data chunk declares {declared} bytes but only {present} are in the file"


def _check_rate(p: Path, rate: int) -> None:
    """Refuse a rate outside ``MIN_RATE``-``MAX_RATE``, saying which side; far outside, the header is broken."""
    if MIN_RATE <= rate <= MAX_RATE:
        return
    if rate < MIN_RATE:
        why = f"below the {MIN_RATE:,} Hz minimum: too little of speech is left at that rate to hear a word"
    else:
        why = f"above the {MAX_RATE:,} Hz maximum"
    broken = rate < 1_000 or rate > 10 * MAX_RATE  # no recorder writes that: the header is broken
    raise AudioFileError(
        f"{p}: declares a sample rate of {rate:,} Hz, {why}" + (" (a broken header?)" if broken else "")
    )


# ----------------------------------------------------------------------------------------- reading


class AudioSource:
    """An open audio file: :attr:`info` and :meth:`blocks`. Use :func:`open_audio` (a context manager)."""

    def __init__(self, path: Path):
        self.path = path
        self._sf = None
        self._av = None
        import soundfile as sf

        try:
            self._sf = sf.SoundFile(str(path))
        except sf.LibsndfileError as exc:
            self._open_av(exc)
            return
        f = self._sf
        try:
            _check_rate(path, int(f.samplerate))
            problem = _truncated(f)
            if problem:
                raise AudioFileError(f"{path}: {problem}")
            if f.frames == 0:
                raise AudioFileError(f"{path}: the file holds no audio samples (empty data chunk)")
        except AudioFileError:
            f.close()
            raise
        frames = int(f.frames) if 0 < f.frames < 2**62 else None
        self.info = AudioInfo(path, int(f.samplerate), int(f.channels), frames, f.format, f.subtype)

    def _open_av(self, sf_error) -> None:
        kind = _sniff(self.path)
        reason = str(sf_error).split(": ", 1)[-1]
        if kind is None:
            with open(self.path, "rb") as fh:
                head = fh.read(12)
            if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
                raise AudioFileError(f"{self.path}: a broken WAV file ({reason.rstrip('.')})") from None
            raise AudioFileError(
                f"{self.path}: not a WAV file or other audio this decoder reads (WAV, FLAC, OGG, MP3): "
                f"{reason.rstrip('.')}; it starts with {head!r}"
            ) from None
        try:
            import av
        except ImportError:
            raise AudioFileError(f"{self.path}: {kind} audio needs {PYAV_HINT}") from None
        try:
            self._av = av.open(str(self.path))
            stream = self._av.streams.audio[0]
        except (IndexError, av.FFmpegError) as exc:
            raise AudioFileError(f"{self.path}: PyAV cannot read it as {kind}: {exc}") from None
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        _check_rate(self.path, rate)
        frames = int(stream.duration * stream.time_base * rate) if stream.duration else None
        codec = str(stream.codec_context.name)
        self.info = AudioInfo(self.path, rate, int(stream.channels), frames, kind, codec)

    def close(self) -> None:
        for f in (self._sf, self._av):
            if f is not None:
                f.close()

    def __enter__(self) -> AudioSource:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        """The file's samples in blocks of ``frames`` per channel (the last may be shorter): float32
        ``(n, channels)`` in [-1, 1] (float files beyond it are clipped). NaN or infinity raises."""
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if self._sf is not None:
            source = self._sf.blocks(blocksize=frames, dtype="float32", always_2d=True)
        else:
            source = self._av_blocks(frames)
        at = 0
        for block in source:
            if not np.isfinite(block).all():
                bad = int(np.argmin(np.isfinite(block).all(axis=1)))
                raise AudioFileError(
                    f"{self.path}: sample {at + bad} ({(at + bad) / self.info.sample_rate:.3f} s) is NaN or "
                    "infinite; the file is broken (it is not read as silence)"
                )
            if self.info.subtype in ("FLOAT", "DOUBLE"):
                np.clip(block, -1.0, 1.0, out=block)
            at += len(block)
            yield block

    def _av_blocks(self, frames: int) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        have = 0
        for frame in self._av.decode(audio=0):
            x = frame.to_ndarray()
            x = x.T if frame.format.is_planar else x.reshape(-1, self.info.channels)
            pending.append(int_to_float(x) if x.dtype.kind in "iu" else np.asarray(x, np.float32))
            have += len(x)
            while have >= frames:
                buf = np.concatenate(pending)
                yield buf[:frames]
                pending, have = [buf[frames:]], have - frames
        if have:
            yield np.concatenate(pending)


def open_audio(path: PathLike, name: str = "path") -> AudioSource:
    """Open an audio file after the checks at the door (:func:`check_source`, the sample rate, truncation).

    >>> with open_audio("clip.wav") as src:                         # doctest: +SKIP
    ...     for block in src.blocks(44_100): ...
    """
    return AudioSource(check_source(path, name))


def audio_info(path: PathLike) -> AudioInfo:
    """What ``path`` declares (rate, channels, frames, format), read from its header only."""
    with open_audio(path) as src:
        return src.info


def read_all(path: PathLike, name: str = "path") -> tuple[np.ndarray, int]:
    """The whole file as it is stored: float32 ``(n, channels)`` and its rate (for short files)."""
    with open_audio(path, name) as src:
        parts = list(src.blocks(1 << 20))
        rate = src.info.sample_rate
    x = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if x.size == 0:
        raise AudioFileError(f"{path}: the file holds no audio samples")
    return x, rate


def read_blocks(
    path: PathLike, *, block_s: float = BLOCK_S, sample_rate: int = SAMPLE_RATE, name: str = "path"
) -> Iterator[np.ndarray]:
    """A file as mono float32 blocks at ``sample_rate`` (channels averaged, resampled block by block):
    concatenated, exactly what :func:`twd_lab.audio.read_wav` returns; about ``block_s`` seconds each."""
    with open_audio(path, name) as src:
        rate = src.info.sample_rate
        resampler = BlockResampler(rate, sample_rate)
        for block in src.blocks(max(1, round(block_s * rate))):
            mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
            out = resampler.feed(mono)
            if out.size:
                yield out
        rest = resampler.finish()
        if rest.size:
            yield rest


def int_to_float(x: np.ndarray) -> np.ndarray:
    """Integer samples -> float32 in [-1, 1): signed types by their full range (int16 by 32,768), unsigned
    ones around their middle (8-bit WAV is unsigned: 128 is silence)."""
    info = np.iinfo(x.dtype)
    offset, scale = (
        ((info.max + 1) / 2, (info.max + 1) / 2) if info.min == 0 else (0.0, float(-int(info.min)))
    )
    return ((x.astype(np.float64) - offset) / scale).astype(np.float32)


# ------------------------------------------------------------------------------------ resampling


def _check_rates(from_rate, to_rate) -> tuple[int, int]:
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if not float(rate).is_integer() or rate <= 0:
            raise ValueError(f"{name} must be a positive whole number of Hz, got {rate!r}")
    return int(from_rate), int(to_rate)


@functools.lru_cache(maxsize=8)
def _filter(up: int, down: int) -> np.ndarray:
    """``scipy.signal.resample_poly``'s own low-pass (Kaiser, beta 5), designed once per ratio, float32."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    h.flags.writeable = False
    return h


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample along axis 0 from ``from_rate`` to ``to_rate`` Hz (polyphase, ``scipy.signal.resample_poly``).

    Returns float32; the input is returned as float32 unchanged when the rates are equal.
    """
    from_rate, to_rate = _check_rates(from_rate, to_rate)
    x = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    return resample_poly(x, up, down, axis=0, window=_filter(up, down)).astype(np.float32, copy=False)


class BlockResampler:
    """``resample`` of a signal that arrives in pieces: :meth:`feed` pieces of any size, then :meth:`finish`.

    Concatenated, the outputs equal ``resample(whole, from_rate, to_rate)`` to float rounding. Every
    ``down`` input samples give ``up`` outputs (``up/down`` = ``to_rate/from_rate`` in lowest terms); an
    output needs the input within the filter's reach on both sides, so a block is resampled with that
    much context (zeros before the start and after the end, as ``resample_poly`` pads) and only its own
    outputs are kept. What is carried never grows: less than two blocks and the reach.
    """

    def __init__(self, from_rate: int, to_rate: int):
        from_rate, to_rate = _check_rates(from_rate, to_rate)
        g = math.gcd(from_rate, to_rate)
        self.up, self.down = to_rate // g, from_rate // g
        reach = math.ceil(10 * max(self.up, self.down) / self.up) + 1  # input samples the filter reads
        self.left = math.ceil(reach / self.down) * self.down  # whole blocks, so the output phase lines up
        self.right = reach
        self._buf = np.zeros(self.left, np.float32)
        self._seen = 0  # input samples fed
        self._made = 0  # outputs given

    @property
    def identity(self) -> bool:
        return self.up == self.down

    def _run(self, blocks: int) -> np.ndarray:
        from scipy.signal import resample_poly

        span = self._buf[: self.left + blocks * self.down + self.right]
        y = resample_poly(span, self.up, self.down, window=_filter(self.up, self.down))
        start = self.left // self.down * self.up
        self._buf = self._buf[blocks * self.down :].copy()
        return y[start : start + blocks * self.up].astype(np.float32, copy=False)

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Take the next input samples (1-D); return the outputs they complete (float32)."""
        x = np.asarray(x, np.float32).reshape(-1)
        self._seen += x.size
        if self.identity:
            self._made += x.size
            return x
        self._buf = np.concatenate([self._buf, x])
        blocks = (self._buf.size - self.left - self.right) // self.down
        if blocks <= 0:
            return np.zeros(0, np.float32)
        y = self._run(blocks)
        self._made += y.size
        return y

    def finish(self) -> np.ndarray:
        """The input has ended: the outputs left (zeros after the end, as ``resample_poly`` pads)."""
        if self.identity:
            return np.zeros(0, np.float32)
        total = -(-self._seen * self.up // self.down)  # ceil, as resample_poly's length
        self._buf = np.concatenate([self._buf, np.zeros(self.right + self.down, np.float32)])
        blocks = (self._buf.size - self.left - self.right) // self.down
        y = self._run(blocks) if blocks > 0 else np.zeros(0, np.float32)
        y = y[: max(0, total - self._made)]
        self._made += y.size
        return y
