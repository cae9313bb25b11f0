"""The speech-embedding detector as a stream: audio in, chunk by chunk, triggers out when decided.

:class:`~twd_lab.detectors.embedding.EmbeddingDetector` hears a whole file at once. Each of its stages
reads only a little of the audio around each output, so a stream can carry just that little, stage by
stage, and give the whole-file numbers::

    44.1 kHz     resample_poly(160/441): output m depends on the input within 27.6 samples of
                 441 m / 160. Blocks start at multiples of 441 input samples (160 outputs), with 441
                 samples of input before them (zeros before time 0, as the whole-file pass pads) and 28
                 after; only the block's own outputs are kept. Carried: < 910 input samples.
    16 kHz       mel frame i reads samples [160 i, 160 i + 512) (checked: zeroing every other sample
                 leaves it unchanged), except for one thing: the model raises every value to at least
                 80 dB below the loudest value of its whole input (``MEL_TOP_DB``; on a clip of loud
                 noise after quiet noise the quiet frames change by 3.5 dB, on digital silence by 127).
                 That cannot be streamed exactly: the whole-clip pass clamps a frame against sounds that
                 come after it. The stream runs the mel model on fixed blocks of 8 frames (80 ms; the
                 first block 4, so every embedding window ends with a block), placed by time alone, and
                 clamps each block against the loudest value of the last 10 s up to it (the length of
                 the training clips): the numbers do not depend on how the audio was cut into chunks.
                 (One call hears 8 blocks; a block the call's own clamp touched is heard again alone.)
                 Carried: < 1,632 samples, and the loudest value of each mel block of the last 10 s
                 that no later block exceeds.
    mel frames   embedding k reads frames [8 k, 8 k + 76). The network runs stage by stage
                 (:class:`~twd_lab.detectors.speech_embedding.FrameEmbedder`), each layer once per
                 frame. Carried: < 12 steps at each of its 4 stages (< 76 frames without ``onnx``).
    embeddings   the head reads the last ``history`` (16); the first steps repeat the first embedding, as
                 :func:`~twd_lab.detectors.embedding.history_windows` pads. Carried: 15 embeddings.
    firing       :class:`~twd_lab.metrics.TriggerPicker`'s run above threshold and its last firing.

A step is decided once the audio it reads has been resampled: at most ~11 ms after the step ends (the
rest of its 441-sample block, and 28 samples more). Fed a clip of up to 10 s in chunks of any size, the
probabilities match :meth:`EmbeddingDetector.probabilities` to float rounding (~1e-6), and so do the
triggers, except where the clip has parts more than 80 dB quieter than a sound that comes later (digital
silence before the first sound, say; those steps hear the quiet part less clamped). A stream cannot know
where a clip ends, so it leaves out the last step when the whole-file pass read zeros after the end for it.

>>> det = EmbeddingStreamingDetector()                           # doctest: +SKIP
>>> for chunk in chunks:                                         # doctest: +SKIP
...     for trigger in det.feed(chunk):
...         print(f"activate! at {trigger.time_s:.2f} s (p={trigger.score:.2f})")
"""

from __future__ import annotations

import math
import numbers
from collections import deque

import numpy as np

from twd_lab.constants import CLIP_MS, SAMPLE_RATE
from twd_lab.decoding import BlockResampler
from twd_lab.detectors.base import DetectorStream
from twd_lab.detectors.embedding import EmbeddingDetector, history_windows
from twd_lab.detectors.live import StreamingBase
from twd_lab.detectors.speech_embedding import (
    EMBEDDING_DIM,
    EMBEDDING_SAMPLE_RATE,
    MEL_HOP,
    MEL_TOP_DB,
    MEL_WINDOW,
    WINDOW_FRAMES,
    WINDOW_STRIDE,
    FrameEmbedder,
    mel_frames,
)

__all__ = ["EmbeddingStream", "EmbeddingStreamingDetector"]

#: Resampling 44.1 -> 16 kHz: 441 input samples give exactly 160 outputs.
IN_BLOCK = SAMPLE_RATE // math.gcd(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE)  # 441
OUT_BLOCK = EMBEDDING_SAMPLE_RATE // math.gcd(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE)  # 160
#: Input kept before a block (a whole block, so the output phase lines up) and after it (scipy's
#: resample_poly filter has 10 * 441 taps each side at the upsampled rate, 27.6 input samples).
LEFT_CONTEXT = BlockResampler(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE).left  # 441
RIGHT_CONTEXT = BlockResampler(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE).right  # 29
#: Mel frames are clamped against the loudest value of this many recent frames: 10 s, a training clip.
LOUDNESS_FRAMES = CLIP_MS * EMBEDDING_SAMPLE_RATE // 1000 // MEL_HOP  # 1000
#: MEL_TOP_DB in the scaled units of mel_frames (dB / 10 + 2).
_TOP_SCALED = np.float32(MEL_TOP_DB / 10.0)
#: Scaled values this close above a call's clamp level (0.01 dB) may be the clamp itself, not sound.
_LEVEL_EPS = np.float32(1e-3)


class EmbeddingStream(DetectorStream):
    """The speech-embedding detector hearing one stream (see the module's notes for what it carries)."""

    #: Mel frames per block: the model's clamp acts per call, so blocks are placed by time alone.
    MEL_BLOCK = WINDOW_STRIDE
    #: Blocks heard in one call of the mel model (0.64 s); a block the call's clamp touched is heard again alone.
    MEL_CALL_BLOCKS = 8

    def __init__(self, detector: EmbeddingDetector, **kwargs):
        super().__init__(detector, **kwargs)
        self.history = int(detector.config.history)
        self._predict = detector.predict_few
        # 44.1 -> 16 kHz block by block, as resample_poly on the whole (zeros before time 0)
        self._resampler = BlockResampler(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE)
        self._x16 = np.zeros(0, np.float32)  # 16 kHz samples from the next mel frame on
        # scaled mel frames -> embeddings (through the head's own front end), holding what it still needs
        self._embedder = FrameEmbedder(front_end=detector.front_end)
        self._frames_seen = 0
        # (frames seen after the block, its loudest value): decreasing, so the first is the loudest
        self._loudest: deque[tuple[int, np.float32]] = deque()
        self._past = np.zeros((0, EMBEDDING_DIM), np.float32)  # the last history - 1 embeddings

    @property
    def buffer_lengths(self) -> dict[str, int]:
        """What is carried between chunks, stage by stage: it never grows with the time heard."""
        return {
            "samples_44k": self._resampler._buf.size,
            "samples_16k": self._x16.size,
            "embedding_steps": self._embedder.buffered,
            "embeddings": len(self._past),
            "loudness_blocks": len(self._loudest),
        }

    def _advance(self, x: np.ndarray) -> np.ndarray:
        none = np.zeros(0, np.float32)
        y = self._resampler.feed(x)
        if y.size:
            self._x16 = np.concatenate([self._x16, y])
        blocks = self._mel_blocks()
        if not blocks:
            return none
        emb = self._embedder.feed(np.concatenate(blocks))
        if not len(emb):
            return none

        # the past in front: history_windows then pads only at the very start, with the first embedding
        seq = np.concatenate([self._past, emb])
        probs = self._predict(history_windows(seq, self.history)[len(self._past) :])
        self._past = seq[max(0, len(seq) - (self.history - 1)) :].copy()
        return probs

    def _mel_blocks(self) -> list[np.ndarray]:
        """The mel blocks the 16 kHz samples complete, each clamped as if the model had heard it alone and
        then against the loudest value of the last 10 s (:meth:`_loudest_until`).

        One call of the mel model covers all of them: its own clamp (80 dB below the call's loudest value
        ``M``) is then inert for a block whose 10 s reference is at least ``M``. Only the other blocks (a
        louder sound later in the same call, or a block entirely 80 dB below ``M``) are heard again alone.
        """
        spans = []  # (first sample, frames) of each whole block, placed by time alone
        at, seen = 0, self._frames_seen
        while True:
            # the first block ends where the first embedding window can end a block (76 = 4 + 9 * 8)
            n = WINDOW_FRAMES % self.MEL_BLOCK if seen == 0 else self.MEL_BLOCK
            if self._x16.size - at < (n - 1) * MEL_HOP + MEL_WINDOW:
                break
            spans.append((at, n))
            at, seen = at + n * MEL_HOP, seen + n
        if not spans:
            return []
        blocks = []
        for g in range(0, len(spans), self.MEL_CALL_BLOCKS):
            blocks.extend(self._mel_group(spans[g : g + self.MEL_CALL_BLOCKS]))
        self._x16 = self._x16[at:].copy()
        return blocks

    def _mel_group(self, spans) -> list[np.ndarray]:
        """The blocks of ``spans`` from one call of the mel model, and alone where that call's clamp acted."""

        def alone(start, n):
            return mel_frames(self._x16[start : start + (n - 1) * MEL_HOP + MEL_WINDOW])

        first = spans[0][0]
        frames = sum(n for _, n in spans)
        together = mel_frames(self._x16[first : first + (frames - 1) * MEL_HOP + MEL_WINDOW])
        loudest = together.max()
        blocks, f = [], 0
        for start, n in spans:
            block = together[f : f + n]
            f += n
            own = None
            # its own loudest value hidden by the call's clamp (the model rounds that level its own way)
            if block.max() <= loudest - _TOP_SCALED + _LEVEL_EPS:
                own = alone(start, n)
            ref = self._loudest_until(n, (block if own is None else own).max())
            if ref < loudest:  # a louder sound later in this call clamped the block: hear it alone
                block = alone(start, n) if own is None else own
            blocks.append(np.maximum(block, ref - _TOP_SCALED))
        return blocks

    def _loudest_until(self, n_frames: int, loud: np.float32) -> np.float32:
        """Record a block of ``n_frames`` whose loudest value is ``loud``; return the loudest value of the
        last 10 s, this block included (the block is then raised to 80 dB below it)."""
        self._frames_seen += n_frames
        while self._loudest and self._loudest[-1][1] <= loud:
            self._loudest.pop()  # never the loudest again while this block is in the window
        self._loudest.append((self._frames_seen, loud))
        while self._loudest[0][0] <= self._frames_seen - LOUDNESS_FRAMES:
            self._loudest.popleft()
        return self._loudest[0][1]


class EmbeddingStreamingDetector(StreamingBase):
    """The speech-embedding detector, live: feed audio as it arrives; get triggers as soon as decided.

    ``detector``: an :class:`~twd_lab.detectors.embedding.EmbeddingDetector`, or ``None`` for the shipped
    one (:meth:`EmbeddingDetector.load`). ``chunk_s``: the chunk length :meth:`process` and :meth:`listen`
    use (``feed`` takes any length). ``threshold``, ``patience`` (steps of 80 ms) and ``refractory_s``
    (seconds, rounded to whole steps): the firing rule of :func:`twd_lab.metrics.find_triggers`; ``None``
    takes the detector's own (``detector.config``). ``gain_db``: gain applied to every sample fed.
    ``keep_probabilities``: keep every probability in :attr:`probabilities` (45,000 an hour; turn off for a
    microphone left on: then nothing grows with time).

    Samples are float in [-1, 1], mono, at 44.1 kHz. The head was trained on clips at -20 dBFS, as
    ``twd-lab detect`` level-matches a file; a stream is used as it comes (times ``gain_db``).
    """

    def __init__(
        self,
        detector: EmbeddingDetector | None = None,
        *,
        chunk_s: float = 0.25,
        threshold: float | None = None,
        patience: int | None = None,
        refractory_s: float | None = None,
        gain_db: float = 0.0,
        keep_probabilities: bool = True,
    ):
        if detector is not None and not isinstance(detector, EmbeddingDetector):
            raise TypeError(
                "detector must be a twd_lab.detectors.EmbeddingDetector, or None for the shipped "
                f"one, got {type(detector).__name__}"
            )
        _check_number("threshold", threshold)
        if patience is not None and (
            isinstance(patience, bool) or not isinstance(patience, numbers.Integral)
        ):
            raise ValueError(f"patience must be a whole number of steps >= 1, got {patience!r}")
        _check_number("refractory_s", refractory_s)
        if refractory_s is not None and not (math.isfinite(refractory_s) and refractory_s >= 0):
            raise ValueError(f"refractory_s must be a number of seconds >= 0, got {refractory_s!r}")
        detector = EmbeddingDetector.load() if detector is None else detector
        c = detector.config
        refractory = None if refractory_s is None else max(1, round(float(refractory_s) / c.step_s))
        rule = detector.rule.with_overrides(threshold, patience, refractory)
        super().__init__(
            detector, chunk_s=chunk_s, rule=rule, gain_db=gain_db, keep_probabilities=keep_probabilities
        )
        self.history = int(c.history)
        detector.warm_up()

    @property
    def refractory_steps(self) -> int:
        """The refractory time in use, in steps of 80 ms."""
        return self.rule.refractory

    @property
    def buffer_lengths(self) -> dict[str, int]:
        """What is carried between chunks, stage by stage: it never grows with the time heard."""
        return self.stream.buffer_lengths


def _check_number(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValueError(f"{name} must be a number or None (the detector's own), got {value!r}")
