"""The detector as a stream: audio in, chunk by chunk, triggers out as soon as they are decided.

What must be carried from one chunk to the next, stage by stage::

    samples      the last < 200 samples that do not yet fill a spectrogram frame (hop 80, window 200)
    frames       CausalNormalization's running (count, sum, sumsq) per frequency (its ``normalize`` state)
    conv         the last 11 normalised frames: the Conv1D kernel (15 frames, stride 4) of the next step
    GRUs         the hidden states of gru_1 and gru_2 (:class:`twd_lab.inference.ChunkedModel`)
    firing       TriggerPicker's run of steps above threshold and its last firing (refractory)

Fed in chunks of any size, :class:`StreamingDetector` gives the probabilities of the whole-file pass
(:func:`twd_lab.detection.detect_triggerword`) to float rounding, and so the same triggers.

:class:`StreamingBase` is what every streaming detector shares (checking chunks, the clock, the firing
rule, :meth:`~StreamingBase.process` and the microphone loop :meth:`~StreamingBase.listen`);
:class:`twd_lab.embedding_streaming.EmbeddingStreamingDetector` streams the speech-embedding detector on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from twd_lab.constants import (
    CONV_STRIDE,
    DETECT_TAIL_S,
    HOP,
    N_FREQ,
    NFFT,
    PATIENCE,
    REFRACTORY,
    SAMPLE_RATE,
    THRESHOLD,
    frames_for_samples,
)
from twd_lab.inference import (
    RECEPTIVE_FIELD_SAMPLES,
    STEP_SAMPLES,
    STREAM_BLOCK_STEPS,
    Trigger,
    chunked_model,
    step_times_s,
    triggers_at,
)
from twd_lab.metrics import TriggerPicker
from twd_lab.spectrogram import pcm16_frames

__all__ = [
    "RECEPTIVE_FIELD_SAMPLES",
    "STEP_SAMPLES",
    "StreamingBase",
    "StreamingDetector",
    "Trigger",
    "step_times_s",
]


# ------------------------------------------------------------------------------------- streaming

#: With ``keep_probabilities=False``, :attr:`StreamingBase.compute_s` keeps only this many recent timings.
KEEP_TIMINGS = 10_000


class StreamingBase:
    """What a streaming detector shares: chunk checks, the clock, the firing rule, ``process`` and ``listen``.

    A subclass implements :meth:`_advance` (new samples in, the probabilities of the steps they complete
    out), :meth:`_reset_state` (forget what :meth:`_advance` carries) and :meth:`_triggers_at` (firing
    steps -> :class:`Trigger` records), and calls :meth:`_setup` then :meth:`reset` in ``__init__``.
    """

    chunk_s: float
    gain: np.float32
    keep_probabilities: bool
    _picker_args: tuple[float, int, int]

    def _setup(self, chunk_s: float, gain_db: float, keep_probabilities: bool, picker_args) -> None:
        if not 0 < float(chunk_s) <= 60:
            raise ValueError(f"chunk_s must be in (0, 60] seconds, got {chunk_s}")
        self.chunk_s = float(chunk_s)
        if not np.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of decibels, got {gain_db}")
        self.gain = np.float32(10.0 ** (float(gain_db) / 20.0))
        self._picker_args = tuple(picker_args)
        TriggerPicker(*self._picker_args)  # validates the firing rule now
        self.keep_probabilities = bool(keep_probabilities)

    def reset(self) -> None:
        """Forget everything heard: the next sample is time 0."""
        self.picker = TriggerPicker(*self._picker_args)
        self._probs: list[np.ndarray] = []
        self.samples_seen = 0
        self.steps_seen = 0
        self.triggers: list[Trigger] = []
        self.compute_s: list[float] = []  # seconds spent in each feed() call
        self.finished = False
        self._reset_state()

    def _reset_state(self) -> None:
        raise NotImplementedError

    def _advance(self, x: np.ndarray) -> np.ndarray:
        """Take the next samples (float32, gain applied); return the probabilities of the steps completed."""
        raise NotImplementedError

    def _triggers_at(self, steps: np.ndarray, scores: np.ndarray) -> list[Trigger]:
        raise NotImplementedError

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
        if self.finished:
            raise ValueError("this stream has finished (finish() was called); call reset() to start another")
        x = np.asarray(samples)
        if x.ndim != 1 or x.dtype.kind != "f":
            raise ValueError(f"samples must be a 1-D float array, got shape {x.shape} of {x.dtype}")
        if x.size and not np.all(np.isfinite(x)):
            raise ValueError("samples must be finite (no NaN or infinity)")
        self.samples_seen += x.size
        probs = self._advance(x.astype(np.float32, copy=False) * self.gain)
        new: list[Trigger] = []
        if probs.size:
            start = self.steps_seen
            self.steps_seen += probs.size
            if self.keep_probabilities:
                self._probs.append(probs)
            fired = self.picker.update(probs)  # global step indices
            new = self._triggers_at(fired, probs[fired - start])
            self.triggers.extend(new)
        self.compute_s.append(time.perf_counter() - t0)
        if not self.keep_probabilities and len(self.compute_s) > 2 * KEEP_TIMINGS:
            del self.compute_s[:-KEEP_TIMINGS]  # a microphone left on for hours keeps no history
        return new

    def process(self, samples, chunk_s: float | None = None) -> list[Trigger]:
        """Feed ``samples`` chunk by chunk (``chunk_s``, default the detector's), as a live stream would."""
        x = np.asarray(samples, np.float32).reshape(-1)
        n = max(1, round((chunk_s or self.chunk_s) * SAMPLE_RATE))
        out: list[Trigger] = []
        for a in range(0, x.size, n):
            out.extend(self.feed(x[a : a + n]))
        return out

    def finish(self, tail_s: float = DETECT_TAIL_S) -> list[Trigger]:
        """The stream has ended: hear ``tail_s`` seconds of silence after it, so that a word said right
        before the end is still decided (as ``twd-lab detect`` pads a file), and return the new triggers
        (their times may lie up to ``tail_s`` past :attr:`time_s`, which stays the stream's own length).
        Feeding more raises until :meth:`reset` starts a new stream."""
        from twd_lab.detection import pad_edges

        silence = pad_edges(np.zeros(0, np.float32), 0.0, tail_s)  # checks tail_s too
        heard = self.samples_seen
        new = self.feed(silence)
        self.samples_seen, self.finished = heard, True
        return new

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
        for trigger in self.finish():  # a word said just before the end
            heard.append(trigger)
            on_trigger(trigger)
        return heard


class StreamingDetector(StreamingBase):
    """Feed audio as it arrives; get the triggers as soon as they are decided.

    ``model``: a Keras model of the lab network, a ``.keras`` path, or ``None`` for the shipped model.
    ``chunk_s``: the chunk length :meth:`process` and :meth:`listen` use (``feed`` takes any length).
    The default 0.25 s keeps the worst latency under 0.5 s (a sample waits up to a chunk, plus ~5 ms of
    compute); 0.5 s chunks averaged 0.26 s but peaked at 0.51 s in ``benchmarks/bench_detect.py``.
    ``threshold``, ``patience``, ``refractory``: the firing rule of :func:`twd_lab.metrics.find_triggers`.

    ``gain_db``: gain applied to every sample fed. ``keep_probabilities``: keep every probability in
    :attr:`probabilities` (about 2 MB an hour; turn off for a microphone left on).

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
        chunk_s: float = 0.25,
        threshold: float = THRESHOLD,
        patience: int = PATIENCE,
        refractory: int = REFRACTORY,
        gain_db: float = 0.0,
        keep_probabilities: bool = True,
        warm_up: bool = True,
    ):
        self._setup(chunk_s, gain_db, keep_probabilities, (threshold, patience, refractory))
        self.runner = chunked_model(model)
        self.reset()
        if warm_up:
            self.runner.warm_up(STREAM_BLOCK_STEPS)

    def _reset_state(self) -> None:
        self._samples = np.zeros(0, np.float32)  # not yet a whole frame
        self._frames = np.zeros((0, N_FREQ), np.float32)  # normalised, not yet a whole step
        self._norm_state = None
        self._h1, self._h2 = self.runner.initial_state()

    def _advance(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._samples, x])
        n_frames = frames_for_samples(buf.size)
        probs = np.zeros(0, np.float32)
        if n_frames:
            used = (n_frames - 1) * HOP + NFFT
            raw = pcm16_frames(buf[:used])
            buf = buf[n_frames * HOP :]
            y, self._norm_state = self.runner.normalize(raw, self._norm_state)
            frames = np.concatenate([self._frames, y])
            probs, self._h1, self._h2 = self.runner.run(
                frames, self._h1, self._h2, block_steps=STREAM_BLOCK_STEPS
            )
            self._frames = frames[CONV_STRIDE * probs.size :]
        self._samples = buf.copy()
        return probs

    def _triggers_at(self, steps: np.ndarray, scores: np.ndarray) -> list[Trigger]:
        return triggers_at(steps, scores)
