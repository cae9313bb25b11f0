"""The lab network as a :class:`~twd_lab.detectors.base.Detector`: 7.26 ms steps, the lab's firing rule.

What its stream carries from one chunk to the next, stage by stage::

    samples      the last < 200 samples that do not yet fill a spectrogram frame (hop 80, window 200)
    frames       CausalNormalization's running (count, sum, sumsq) per frequency (its ``normalize`` state)
    conv         the last 11 normalised frames: the Conv1D kernel (15 frames, stride 4) of the next step
    GRUs         the hidden states of gru_1 and gru_2 (:class:`~twd_lab.detectors.lab_network.ChunkedModel`)

Step ``j`` is decided at ``(320 j + 1320) / 44100`` s (:func:`~twd_lab.detectors.lab_network.step_times_s`).
TensorFlow is imported when the network is first loaded, not before.
"""

from __future__ import annotations

import numpy as np

from twd_lab.constants import (
    CONV_KERNEL,
    CONV_STRIDE,
    HOP,
    LABEL_RUN,
    N_FREQ,
    NFFT,
    PATIENCE,
    REFRACTORY,
    SAMPLE_RATE,
    THRESHOLD,
    TY,
    frames_for_samples,
    steps_for_frames,
)
from twd_lab.detectors.base import Detector, DetectorStream, FiringRule
from twd_lab.detectors.lab_network import (
    FILE_BLOCK_STEPS,
    STEP_SAMPLES,
    STREAM_BLOCK_STEPS,
    chunked_model,
    step_times_s,
)

__all__ = ["LabDetector", "LabStream"]


class LabDetector(Detector):
    """The lab network: ``model`` a Keras model of it, a ``.keras`` path, or ``None`` (the shipped one).

    ``rule``: its firing rule (default the lab's: threshold 0.5, patience 1, refractory 75 steps).
    Raises ``ValueError`` for a model of another architecture (the stream needs the lab's layers).
    """

    kind = "lab"
    title = "the lab network"
    step_s = STEP_SAMPLES / SAMPLE_RATE

    def __init__(self, model=None, *, rule: FiringRule | None = None):
        self.runner = chunked_model(model)
        self._rule = rule or FiringRule(THRESHOLD, PATIENCE, REFRACTORY)

    @property
    def model(self):
        """The Keras model the network's weights come from."""
        return self.runner.source

    @property
    def rule(self) -> FiringRule:
        return self._rule

    def step_times(self, steps) -> np.ndarray:
        return step_times_s(steps)

    def stream(self, *, gain_db: float = 0.0, sample_rate: int = SAMPLE_RATE) -> LabStream:
        return LabStream(self, gain_db=gain_db, sample_rate=sample_rate)

    def warm_up(self) -> None:
        """Compile the stream's block function now (about a second) rather than on the first chunk."""
        self.runner.warm_up(STREAM_BLOCK_STEPS)

    def step_targets(self, word_ends_s, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The lab's labels (:func:`twd_lab.synthesis.insert_ones`): the ``LABEL_RUN`` steps after each word's
        end step ``int(end_ms * Ty / 10000)`` are 1, the rest 0; every step weighs 1. ``n_steps`` may pass
        ``Ty`` (a clip heard with silence after it): the step of a time does not depend on the length."""
        labels = np.zeros(int(n_steps), np.float32)
        for end_s in word_ends_s:
            end = int(round(float(end_s) * 1000) * TY / 10000.0)  # insert_ones' step of the word's end
            labels[end + 1 : end + 1 + LABEL_RUN] = 1.0
        return labels, np.ones_like(labels)


class LabStream(DetectorStream):
    """The lab network hearing one stream (see the module's notes for what it carries)."""

    def __init__(self, detector: LabDetector, **kwargs):
        super().__init__(detector, **kwargs)
        self.runner = detector.runner
        self.runner.sync()  # a model trained further since the detector was made is heard as it is now
        self._samples = np.zeros(0, np.float32)  # not yet a whole frame
        self._frames = np.zeros((0, N_FREQ), np.float32)  # normalised, not yet a whole step
        self._norm_state = None
        self._h1, self._h2 = self.runner.initial_state()

    @property
    def buffer_lengths(self) -> dict[str, int]:
        """What is carried between chunks: it never grows with the time heard."""
        return {"samples": self._samples.size, "frames": len(self._frames)}

    def _advance(self, x: np.ndarray) -> np.ndarray:
        from twd_lab.spectrogram import pcm16_frames

        buf = np.concatenate([self._samples, x])
        n_frames = frames_for_samples(buf.size)
        frames = self._frames
        if n_frames:
            used = (n_frames - 1) * HOP + NFFT
            raw = pcm16_frames(buf[:used])
            buf = buf[n_frames * HOP :]
            y, self._norm_state = self.runner.normalize(raw, self._norm_state)
            frames = np.concatenate([frames, y])
        n_steps = steps_for_frames(len(frames))
        probs = np.zeros(0, np.float32)
        if n_steps:
            # a file's big chunks (hold_back): whole big compiled blocks now, the rest (< 7.4 s) with the
            # next chunk or finish(); otherwise every step at once, small chunks in the small block
            big = self.hold_back and n_steps >= FILE_BLOCK_STEPS and x.size > 0
            use = n_steps // FILE_BLOCK_STEPS * FILE_BLOCK_STEPS if big else n_steps
            block = FILE_BLOCK_STEPS if use >= FILE_BLOCK_STEPS else STREAM_BLOCK_STEPS
            span = CONV_STRIDE * (use - 1) + CONV_KERNEL  # the frames those steps read
            probs, self._h1, self._h2 = self.runner.run(frames[:span], self._h1, self._h2, block_steps=block)
            frames = frames[CONV_STRIDE * probs.size :]
        self._frames = frames
        self._samples = buf.copy()
        return probs
