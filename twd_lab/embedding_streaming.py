"""The speech-embedding detector as a stream: audio in, chunk by chunk, triggers out when decided.

:class:`~twd_lab.embedding_detector.EmbeddingDetector` hears a whole file at once. Each of its stages
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
                 That cannot be streamed exactly: the whole-file pass clamps a frame against sounds that
                 come after it. The stream clamps each frame against the loudest value of the last 10 s
                 up to its own block (the length of the training clips). Carried: < 512 samples, and
                 the loudest value of each mel block of the last 10 s that no later block exceeds.
    mel frames   embedding k reads frames [8 k, 8 k + 76). Carried: < 76 frames.
    embeddings   the head reads the last ``history`` (16); the first steps repeat the first embedding, as
                 :func:`~twd_lab.embedding_detector.history_windows` pads. Carried: 15 embeddings.
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

from twd_lab.audio import resample
from twd_lab.constants import CLIP_MS, SAMPLE_RATE
from twd_lab.embedding import (
    EMBEDDING_DIM,
    EMBEDDING_SAMPLE_RATE,
    MEL_HOP,
    MEL_TOP_DB,
    MEL_WINDOW,
    N_MELS,
    WINDOW_FRAMES,
    WINDOW_STRIDE,
    embed_frames,
    mel_frames,
)
from twd_lab.embedding_detector import EmbeddingDetector, history_windows, step_triggers
from twd_lab.inference import Trigger
from twd_lab.streaming import StreamingBase

__all__ = ["EmbeddingStreamingDetector"]

#: Resampling 44.1 -> 16 kHz: 441 input samples give exactly 160 outputs.
IN_BLOCK = SAMPLE_RATE // math.gcd(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE)  # 441
OUT_BLOCK = EMBEDDING_SAMPLE_RATE // math.gcd(SAMPLE_RATE, EMBEDDING_SAMPLE_RATE)  # 160
#: Input kept before a block: at least the filter's reach, and a whole block so the output phase lines up.
LEFT_CONTEXT = IN_BLOCK
#: Input needed after a block: scipy's resample_poly filter has 10 * 441 taps each side at the
#: upsampled rate, 4410 / 160 = 27.6 input samples.
RIGHT_CONTEXT = math.ceil(10 * IN_BLOCK / OUT_BLOCK)  # 28
#: Mel frames are clamped against the loudest value of this many recent frames: 10 s, a training clip.
LOUDNESS_FRAMES = CLIP_MS * EMBEDDING_SAMPLE_RATE // 1000 // MEL_HOP  # 1000
#: MEL_TOP_DB in the scaled units of mel_frames (dB / 10 + 2).
_TOP_SCALED = np.float32(MEL_TOP_DB / 10.0)


class EmbeddingStreamingDetector(StreamingBase):
    """Feed audio as it arrives; get the speech-embedding detector's triggers as soon as they are decided.

    ``detector``: an :class:`~twd_lab.embedding_detector.EmbeddingDetector`, or ``None`` for the shipped one
    (:meth:`EmbeddingDetector.load`). ``chunk_s``: the chunk length :meth:`process` and :meth:`listen` use
    (``feed`` takes any length). ``threshold``, ``patience`` (steps of 80 ms) and ``refractory_s``
    (seconds, rounded to whole steps): the firing rule of :func:`twd_lab.metrics.find_triggers`; ``None``
    takes the detector's own (``detector.config``). ``gain_db``: gain applied to every sample fed.
    ``keep_probabilities``: keep every probability in :attr:`probabilities` (45,000 an hour; turn off for a
    microphone left on: then nothing grows with time).

    Samples are float in [-1, 1], mono, at 44.1 kHz. The head was trained on clips at -20 dBFS, as
    ``twd-lab detect`` level-matches a file; a stream is used as it comes (times ``gain_db``).

    Fed a clip in chunks of any size, it gives the whole-file probabilities to float rounding, and the
    same triggers (:attr:`~twd_lab.inference.Trigger.time_s`: the end of the step that fired), unless
    the clip has parts 80 dB quieter than a sound that comes after them (see the module's notes).
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
                "detector must be a twd_lab.embedding_detector.EmbeddingDetector, or None for the shipped "
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
        refractory_s = c.refractory_s if refractory_s is None else float(refractory_s)
        rule = (
            c.threshold if threshold is None else float(threshold),
            c.patience if patience is None else int(patience),
            max(1, round(refractory_s / c.step_s)),  # as EmbeddingDetector.refractory_steps rounds
        )
        self._setup(chunk_s, gain_db, keep_probabilities, rule)
        self.detector = detector
        self.history = int(c.history)
        self.reset()
        self._warm_up()

    @property
    def refractory_steps(self) -> int:
        """The refractory time in use, in steps of 80 ms."""
        return self._picker_args[2]

    def _warm_up(self) -> None:
        # the first onnxruntime and Keras calls build their sessions and graphs: not on the first chunk
        mel_frames(np.zeros(MEL_WINDOW, np.float32))
        embed_frames(np.zeros((WINDOW_FRAMES, N_MELS), np.float32))
        if self.detector.fast_head is None:
            for n in (1, 2, 3):  # Keras traces its compiled predict per batch shape, then generalises
                self._predict(np.zeros((n, self.history, EMBEDDING_DIM), np.float32))

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        # a few windows per chunk: the head's NumPy copy when it has one (no TensorFlow at all); else
        # Keras's compiled predict_on_batch, 0.3 ms against 7 ms for a plain call, the same numbers to 1e-9
        if self.detector.fast_head is not None:
            return self.detector.fast_head(windows)
        return np.asarray(
            self.detector.head.predict_on_batch(np.ascontiguousarray(windows)), np.float32
        ).reshape(-1)

    def _reset_state(self) -> None:
        # 44.1 kHz input from LEFT_CONTEXT before the next block; before time 0 it is zeros, as
        # resample_poly pads the whole file
        self._in = np.zeros(LEFT_CONTEXT, np.float32)
        self._x16 = np.zeros(0, np.float32)  # 16 kHz samples from the next mel frame on
        self._frames = np.zeros((0, N_MELS), np.float32)  # scaled mel frames from the next window on
        self._frames_seen = 0
        # (frames seen after the block, its loudest value): decreasing, so the first is the loudest
        self._loudest: deque[tuple[int, np.float32]] = deque()
        self._past = np.zeros((0, EMBEDDING_DIM), np.float32)  # the last history - 1 embeddings

    @property
    def buffer_lengths(self) -> dict[str, int]:
        """What is carried between chunks, stage by stage: it never grows with the time heard."""
        return {
            "samples_44k": self._in.size,
            "samples_16k": self._x16.size,
            "mel_frames": len(self._frames),
            "embeddings": len(self._past),
            "loudness_blocks": len(self._loudest),
        }

    def _advance(self, x: np.ndarray) -> np.ndarray:
        none = np.zeros(0, np.float32)
        self._in = np.concatenate([self._in, x])
        blocks = (self._in.size - LEFT_CONTEXT - RIGHT_CONTEXT) // IN_BLOCK
        if blocks <= 0:
            return none
        # resample whole blocks with their context; keep only the blocks' own outputs
        y = resample(
            self._in[: LEFT_CONTEXT + blocks * IN_BLOCK + RIGHT_CONTEXT], SAMPLE_RATE, EMBEDDING_SAMPLE_RATE
        )
        start = LEFT_CONTEXT // IN_BLOCK * OUT_BLOCK
        self._x16 = np.concatenate([self._x16, y[start : start + blocks * OUT_BLOCK]])
        self._in = self._in[blocks * IN_BLOCK :].copy()

        n_frames = (self._x16.size - MEL_WINDOW) // MEL_HOP + 1 if self._x16.size >= MEL_WINDOW else 0
        if n_frames <= 0:
            return none
        frames = mel_frames(self._x16[: (n_frames - 1) * MEL_HOP + MEL_WINDOW])
        self._x16 = self._x16[n_frames * MEL_HOP :].copy()
        self._frames = np.concatenate([self._frames, self._clamp(frames)])

        steps = (len(self._frames) - WINDOW_FRAMES) // WINDOW_STRIDE + 1
        if steps <= 0:
            return none
        emb = embed_frames(self._frames[: (steps - 1) * WINDOW_STRIDE + WINDOW_FRAMES])
        self._frames = self._frames[steps * WINDOW_STRIDE :].copy()

        # the past in front: history_windows then pads only at the very start, with the first embedding
        seq = np.concatenate([self._past, emb])
        probs = self._predict(history_windows(seq, self.history)[len(self._past) :])
        self._past = seq[max(0, len(seq) - (self.history - 1)) :].copy()
        return probs

    def _clamp(self, frames: np.ndarray) -> np.ndarray:
        """Raise a block's mel frames to 80 dB below the loudest value of the last 10 s, this block included.

        The model clamped the block against its own loudest value; clamping again against a louder one
        gives what one call on all that audio would have given.
        """
        self._frames_seen += len(frames)
        loud = frames.max()
        while self._loudest and self._loudest[-1][1] <= loud:
            self._loudest.pop()  # never the loudest again while this block is in the window
        self._loudest.append((self._frames_seen, loud))
        while self._loudest[0][0] <= self._frames_seen - LOUDNESS_FRAMES:
            self._loudest.popleft()
        return np.maximum(frames, self._loudest[0][1] - _TOP_SCALED)

    def _triggers_at(self, steps: np.ndarray, scores: np.ndarray) -> list[Trigger]:
        return step_triggers(steps, scores)


def _check_number(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise ValueError(f"{name} must be a number or None (the detector's own), got {value!r}")
