"""Live detection: any :class:`~twd_lab.detectors.base.Detector`'s stream with its firing rule, fed from a
microphone or chunk by chunk, triggers out as soon as they are decided.

:class:`StreamingBase` holds a detector's stream (:meth:`~twd_lab.detectors.base.Detector.stream`) and a
:class:`~twd_lab.metrics.TriggerPicker`; :meth:`~StreamingBase.feed` returns the new triggers. It keeps the
probabilities heard (``keep_probabilities``) and the compute time of each chunk, and
:meth:`~StreamingBase.listen` runs the microphone loop. :class:`StreamingDetector` is the lab network's;
:class:`twd_lab.detectors.embedding_stream.EmbeddingStreamingDetector` the speech-embedding detector's.
What each stream carries between chunks is described in :mod:`twd_lab.detectors.lab` and
:mod:`twd_lab.detectors.embedding_stream`.

Fed in chunks of any size, a stream gives the probabilities of the whole-file pass to float rounding, and
so the same triggers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from twd_lab.constants import DETECT_TAIL_S, PATIENCE, REFRACTORY, SAMPLE_RATE, THRESHOLD
from twd_lab.detectors.base import Detector, FiringRule, Trigger, check_seconds, picked_triggers
from twd_lab.detectors.lab_network import RECEPTIVE_FIELD_SAMPLES, STEP_SAMPLES, step_times_s

__all__ = [
    "RECEPTIVE_FIELD_SAMPLES",
    "STEP_SAMPLES",
    "StreamingBase",
    "StreamingDetector",
    "Trigger",
    "step_times_s",
]

#: With ``keep_probabilities=False``, :attr:`StreamingBase.compute_s` keeps only this many recent timings.
KEEP_TIMINGS = 10_000


class StreamingBase:
    """A detector's stream and firing rule: ``feed`` chunks, get triggers; ``process``, ``finish``, ``listen``.

    ``detector``: any :class:`~twd_lab.detectors.base.Detector`. ``chunk_s``: the chunk length
    :meth:`process` and :meth:`listen` use (``feed`` takes any length). ``rule``: the firing rule (default
    the detector's own). ``gain_db``: gain applied to every sample fed. ``keep_probabilities``: keep every
    probability in :attr:`probabilities` (turn off for a microphone left on: then nothing grows with time).
    ``sample_rate``: the rate of the samples fed (resampled to 44.1 kHz as they come; :meth:`listen`
    records at 44.1 kHz).
    """

    def __init__(
        self,
        detector: Detector,
        *,
        chunk_s: float = 0.25,
        rule: FiringRule | None = None,
        gain_db: float = 0.0,
        keep_probabilities: bool = True,
        sample_rate: int = SAMPLE_RATE,
    ):
        if not isinstance(detector, Detector):
            raise TypeError(f"detector must be a twd_lab.detectors.Detector, got {type(detector).__name__}")
        if not 0 < float(chunk_s) <= 60:
            raise ValueError(f"chunk_s must be in (0, 60] seconds, got {chunk_s}")
        if not np.isfinite(gain_db):
            raise ValueError(f"gain_db must be a finite number of decibels, got {gain_db}")
        self.detector = detector
        self.chunk_s = float(chunk_s)
        self.gain_db = float(gain_db)
        self.rule = rule or detector.rule
        self.keep_probabilities = bool(keep_probabilities)
        self.sample_rate = sample_rate
        self.reset()

    @property
    def gain(self) -> np.float32:
        return np.float32(10.0 ** (self.gain_db / 20.0))

    def reset(self) -> None:
        """Forget everything heard: the next sample is time 0."""
        self.stream = self.detector.stream(gain_db=self.gain_db, sample_rate=self.sample_rate)
        self.picker = self.rule.picker()
        self._probs: list[np.ndarray] = []
        self.triggers: list[Trigger] = []
        self.compute_s: list[float] = []  # seconds spent in each feed() call

    @property
    def samples_seen(self) -> int:
        return self.stream.samples_seen

    @property
    def steps_seen(self) -> int:
        return self.stream.steps_seen

    @property
    def finished(self) -> bool:
        return self.stream.finished

    @property
    def probabilities(self) -> np.ndarray:
        """All probabilities so far, ``(steps_seen,)`` (empty if ``keep_probabilities=False``)."""
        return np.concatenate(self._probs) if self._probs else np.zeros(0, np.float32)

    @property
    def time_s(self) -> float:
        """Seconds of audio fed so far."""
        return self.stream.time_s

    def _take(self, probs: np.ndarray, times: np.ndarray) -> list[Trigger]:
        if not probs.size:
            return []
        if self.keep_probabilities:
            self._probs.append(probs)
        new = picked_triggers(self.picker, probs, times)
        self.triggers.extend(new)
        return new

    def feed(self, samples) -> list[Trigger]:
        """Take the next samples (any number, 1-D float in [-1, 1] at 44.1 kHz); return the new triggers."""
        t0 = time.perf_counter()
        if self.finished:
            raise ValueError("this stream has finished (finish() was called); call reset() to start another")
        new = self._take(*self.stream.feed(samples))
        self.compute_s.append(time.perf_counter() - t0)
        if not self.keep_probabilities and len(self.compute_s) > 2 * KEEP_TIMINGS:
            del self.compute_s[:-KEEP_TIMINGS]  # a microphone left on for hours keeps no history
        return new

    def process(self, samples, chunk_s: float | None = None) -> list[Trigger]:
        """Feed ``samples`` chunk by chunk (``chunk_s``, default the detector's), as a live stream would."""
        x = np.asarray(samples, np.float32).reshape(-1)
        n = max(1, round((chunk_s or self.chunk_s) * self.stream.sample_rate))
        out: list[Trigger] = []
        for a in range(0, x.size, n):
            out.extend(self.feed(x[a : a + n]))
        return out

    def finish(self, tail_s: float = DETECT_TAIL_S) -> list[Trigger]:
        """The stream has ended: hear ``tail_s`` seconds of silence after it, so that a word said right
        before the end is still decided (as ``twd-lab detect`` pads a file), and return the new triggers
        (their times may lie up to ``tail_s`` past :attr:`time_s`, which stays the stream's own length).
        Feeding more raises until :meth:`reset` starts a new stream."""
        check_seconds("tail_s", tail_s)
        if self.finished:
            raise ValueError("this stream has finished (finish() was called); call reset() to start another")
        return self._take(*self.stream.finish(tail_s))

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
    """The lab network, live: feed audio as it arrives; get the triggers as soon as they are decided.

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
        from twd_lab.detectors.lab import LabDetector

        rule = FiringRule(threshold, patience, refractory)
        detector = LabDetector(model, rule=rule)
        super().__init__(
            detector, chunk_s=chunk_s, rule=rule, gain_db=gain_db, keep_probabilities=keep_probabilities
        )
        self.runner = detector.runner
        if warm_up:
            detector.warm_up()
