"""What the LiveDetector does in the kernel, without a browser: 16-bit PCM chunks in, probabilities and
triggers out, takes kept as arrays and WAVs.

:class:`LiveSession` holds one :meth:`Detector.stream() <twd_lab.detectors.base.Detector.stream>` at the
browser's sample rate and a firing rule (:class:`~twd_lab.detectors.base.FiringRule`, in the detector's own
steps). :meth:`LiveSession.feed_pcm` takes the bytes of one chunk (little-endian int16, mono) as the
browser's AudioWorklet sends them and returns the new probabilities, their times and the triggers they
fire. The last ``max_take_s`` seconds heard are kept (nothing grows with time), so "keep this take" can
save them (:meth:`LiveSession.keep_take`).
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE
from twd_lab.detectors.base import Detector, FiringRule, Trigger, picked_triggers

__all__ = ["LiveSession", "next_free_path", "pcm16_to_float"]

#: The longest take kept (seconds): older audio is forgotten as new audio comes.
MAX_TAKE_S = 60.0


def pcm16_to_float(data) -> np.ndarray:
    """Bytes of little-endian 16-bit mono PCM as float32 samples in [-1, 1) ``(n,)``."""
    buf = memoryview(data).cast("B")
    if buf.nbytes % 2:
        raise ValueError(
            f"PCM chunk must hold whole 16-bit samples (an even number of bytes), got {buf.nbytes}"
        )
    return np.frombuffer(buf, dtype="<i2").astype(np.float32) / np.float32(32768.0)


def next_free_path(folder: Path, stem: str = "take", suffix: str = ".wav") -> Path:
    """``folder/stem_001.wav``, or the next number not taken: nothing already there is overwritten."""
    n = 1
    while (path := folder / f"{stem}_{n:03d}{suffix}").exists():
        n += 1
    return path


class LiveSession:
    """A detector hearing a microphone, chunk by chunk (see the module's notes).

    ``detector``: any :class:`~twd_lab.detectors.base.Detector`; ``rule``: its firing rule (default its own);
    ``gain_db``: applied to every sample; ``max_take_s``: seconds of audio kept for :meth:`keep_take`.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        rule: FiringRule | None = None,
        gain_db: float = 0.0,
        max_take_s: float = MAX_TAKE_S,
    ):
        if not isinstance(detector, Detector):
            raise TypeError(f"detector must be a twd_lab.detectors.Detector, got {type(detector).__name__}")
        if not 0 < float(max_take_s) <= 3600:
            raise ValueError(f"max_take_s must be in (0, 3600] seconds, got {max_take_s}")
        self.detector = detector
        self.rule = rule or detector.rule
        self.gain_db = float(gain_db)
        self.max_take_s = float(max_take_s)
        self.takes: list[np.ndarray] = []
        self.start(SAMPLE_RATE)

    def start(self, sample_rate: int) -> None:
        """Begin a new stream of audio at ``sample_rate`` Hz: time 0 is its first sample."""
        self.sample_rate = int(sample_rate)
        self.stream = self.detector.stream(gain_db=self.gain_db, sample_rate=self.sample_rate)
        self.picker = self.rule.picker()
        self.triggers: list[Trigger] = []
        self._take: deque[np.ndarray] = deque()
        self._take_n = 0

    def set_rule(self, rule: FiringRule) -> None:
        """Fire by ``rule`` from the next chunk on (a step above the threshold counts again from there)."""
        self.rule = rule
        self.picker = rule.picker()

    @property
    def time_s(self) -> float:
        """Seconds of audio heard in this stream."""
        return self.stream.time_s

    @property
    def compute_s(self) -> float:
        """Seconds the detector has spent on this stream."""
        return self.stream.compute_s

    def feed_pcm(self, data) -> tuple[np.ndarray, np.ndarray, list[Trigger]]:
        """Hear one chunk of 16-bit PCM bytes: its new probabilities ``(k,)``, their times (s) and new triggers."""
        x = pcm16_to_float(data)
        self._keep(x)
        return self._fire(*self.stream.feed(x))

    def finish(self) -> tuple[np.ndarray, np.ndarray, list[Trigger]]:
        """The microphone stopped: hear a little silence so a word said just before is decided."""
        if self.stream.finished:
            return np.zeros(0, np.float32), np.zeros(0), []
        return self._fire(*self.stream.finish())

    def _fire(self, probs: np.ndarray, times: np.ndarray):
        if not probs.size:
            return probs, times, []
        new = picked_triggers(self.picker, probs, times)
        self.triggers.extend(new)
        return probs, times, new

    def _keep(self, x: np.ndarray) -> None:
        self._take.append(x)
        self._take_n += x.size
        limit = round(self.max_take_s * self.sample_rate)
        while self._take and self._take_n - self._take[0].size >= limit:
            self._take_n -= self._take.popleft().size

    def take(self) -> np.ndarray:
        """The audio of this stream kept so far (its last ``max_take_s`` seconds) at 44.1 kHz, float32."""
        x = np.concatenate(self._take) if self._take else np.zeros(0, np.float32)
        if self.sample_rate != SAMPLE_RATE and x.size:
            from twd_lab.audio import resample

            x = resample(x, self.sample_rate, SAMPLE_RATE)
        return x

    def keep_take(self, folder: str | os.PathLike | None = None) -> tuple[np.ndarray, Path | None]:
        """Keep this stream's audio: appended to :attr:`takes` (44.1 kHz float32) and, when ``folder`` is
        given, written there as the next free ``take_NNN.wav`` (16-bit; nothing is overwritten)."""
        x = self.take()
        if not x.size:
            raise ValueError("nothing heard yet: start the microphone and say something first")
        self.takes.append(x)
        if folder is None:
            return x, None
        from twd_lab.widgets._common import wav_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = next_free_path(folder)
        with open(path, "xb") as f:  # "x": never over a file that appeared meanwhile
            f.write(wav_bytes(x, SAMPLE_RATE))
        return x, path
