"""AudioPlayer: play a clip and see, on one time axis, its spectrogram, labels and the model's output."""

from __future__ import annotations

import os
from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from twd_lab.constants import HOP, NOVERLAP, SAMPLE_RATE, STEP_S, THRESHOLD
from twd_lab.plotting import plot_labels, plot_probabilities
from twd_lab.widgets._common import FigureBox, describe_times, html_escape, new_figure, wav_bytes


def load_samples(samples_or_path) -> np.ndarray:
    """A path (read at 44.1 kHz, mono) or samples -> float32 samples."""
    if isinstance(samples_or_path, (str, os.PathLike)):
        from twd_lab.audio import read_wav

        return read_wav(samples_or_path)
    x = np.asarray(samples_or_path, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"samples must be a non-empty array of shape (n,) or (n, channels), got {x.shape}")
    return x


def trigger_times(triggers, step_s: float = STEP_S) -> list[float]:
    """Times (s) of detections given as output steps (ints), seconds (floats), or records with ``time_s``."""
    times = []
    for t in triggers or ():
        if isinstance(t, dict):
            times.append(float(t["time_s"]) if "time_s" in t else float(t["step"]) * step_s)
        elif hasattr(t, "time_s"):
            times.append(float(t.time_s))
        elif hasattr(t, "step"):
            times.append(float(t.step) * step_s)
        elif isinstance(t, (int, np.integer)):
            times.append(int(t) * step_s)
        else:
            times.append(float(t))
    return times


def draw_spectrogram(ax, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Draw the log power spectrogram of ``samples`` with time in seconds and frequency in kHz.

    Not :func:`twd_lab.plotting.plot_spectrogram`: its colour bar would make this row narrower than the
    rows under it, and the rows must line up on one time axis.
    """
    from twd_lab.spectrogram import spectrogram

    spec = spectrogram(samples)
    n_frames = spec.shape[1]
    end_s = (n_frames * HOP + NOVERLAP) / sample_rate
    ax.imshow(
        10 * np.log10(spec + 1e-10),
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0.0, end_s, 0.0, sample_rate / 2000),
        interpolation="nearest",
    )
    ax.set_ylim(0, 8)  # the voices live below 8 kHz
    ax.set_ylabel("kHz")


class AudioPlayer(FigureBox):
    """Play a clip; show its spectrogram, labels ``y`` and probabilities on one shared time axis.

    ``samples_or_path``: float samples at 44.1 kHz (or a WAV path). ``labels``: the target ``y``
    (``(Ty,)`` or ``(1, Ty)``). ``probs``: the model's output per step. ``triggers``: detections, as
    output steps, seconds or records with ``time_s``. ``threshold`` is drawn on the probabilities.

    In the notebook the clip is drawn by the browser (``.view``, an
    :class:`~twd_lab.widgets.audio_view.AudioView`, which is also ``.audio``: it plays the clip, ``.value``
    its WAV bytes): a playhead follows playback, a click or a drag seeks, hovering shows time and value.
    Ctrl/Alt + wheel zooms the time axis. The same rows are drawn by matplotlib (``.figure``, one row
    per thing shown, in that order; drawn when first asked for) as the static picture (``.png``) an
    exported notebook shows. Call :meth:`update` to show another clip or new probabilities.
    """

    def __init__(
        self,
        samples_or_path,
        *,
        labels=None,
        probs=None,
        triggers: Sequence | None = None,
        threshold: float = THRESHOLD,
        title: str | None = None,
        sample_rate: int = SAMPLE_RATE,
    ):
        super().__init__()
        self.sample_rate = int(sample_rate)
        from twd_lab.widgets.audio_view import AudioView

        self.info = w.HTML()
        self.view = self.audio = AudioView()
        self.children = (self.info, self.view)
        self.title = title
        self.samples = np.zeros(0, np.float32)
        self.labels = self.probs = self.prob_times = None
        self.triggers: list[float] = []
        self.threshold = float(threshold)
        self.update(samples_or_path, labels=labels, probs=probs, triggers=triggers)

    def update(
        self,
        samples_or_path=None,
        *,
        labels=None,
        probs=None,
        triggers=None,
        threshold: float | None = None,
        prob_times=None,
    ) -> None:
        """Show a new clip and/or new labels, probabilities and detections (``None`` keeps nothing).

        ``prob_times``: when each probability is decided (s); default the lab network's steps."""
        new_clip = samples_or_path is not None
        if new_clip:
            self.samples = load_samples(samples_or_path)
        self.labels = None if labels is None else np.asarray(labels, np.float32).reshape(-1)
        self.probs = None if probs is None else np.asarray(probs, np.float32).reshape(-1)
        self.prob_times = None if prob_times is None else np.asarray(prob_times, np.float64).reshape(-1)
        self.triggers = trigger_times(triggers)
        if threshold is not None:
            self.threshold = float(threshold)
        self._redraw()
        times = None
        if self.probs is not None:
            times = self.prob_times if self.prob_times is not None else np.arange(self.probs.size) * STEP_S
        self.view.show(
            self.samples,
            wav_bytes(self.samples, self.sample_rate) if new_clip else b"",
            sample_rate=self.sample_rate,
            labels=self.labels,
            label_step_s=STEP_S,
            probs=self.probs,
            prob_times=times,
            threshold=self.threshold,
            triggers=self.triggers,
            new_clip=new_clip,
        )

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate

    @property
    def axes(self) -> dict:
        """The static picture's Axes by row (``"spectrogram"``, ``"labels"``, ``"probabilities"``)."""
        self.figure  # noqa: B018 - drawn on first use
        return self._axes

    def _static_figure(self):
        rows = (
            ["spectrogram"]
            + (["labels"] if self.labels is not None else [])
            + (["probabilities"] if self.probs is not None else [])
        )
        ratios = [2.0] + [1.0] * (len(rows) - 1)
        fig, axes = new_figure(len(rows), height_ratios=ratios)
        self._axes = dict(zip(rows, axes))
        draw_spectrogram(self._axes["spectrogram"], self.samples, self.sample_rate)
        if self.labels is not None:
            plot_labels(self.labels, ax=self._axes["labels"])
            self._axes["labels"].set_ylabel("label y")
        if self.probs is not None:
            plot_probabilities(
                self.probs, ax=self._axes["probabilities"], threshold=self.threshold, times=self.prob_times
            )
            self._axes["probabilities"].set_ylabel("p(activate)")
        for t in self.triggers:
            for ax in axes:
                ax.axvline(t, color="tab:red", lw=1.2)
        for ax in axes:
            ax.set_xlabel("")
        axes[-1].set_xlabel("time (s)")
        axes[-1].set_xlim(0, self.duration_s)
        return fig

    def _redraw(self) -> None:
        self._invalidate()
        parts = [f"<b>{html_escape(self.title)}</b>"] if self.title else []
        parts.append(f"{self.duration_s:.2f} s at {self.sample_rate} Hz")
        if self.labels is not None:
            parts.append(f"{int(np.count_nonzero(np.diff(np.r_[0, self.labels]) > 0))} labelled activate(s)")
        if self.probs is not None:
            parts.append(f"max p = {float(self.probs.max()):.2f}")
        if self.triggers or self.probs is not None:
            parts.append(f"detections: {describe_times(self.triggers)}")
        self.info.value = " · ".join(parts)

    def _static_audio(self) -> list:
        # the clip plays from the browser-drawn view (an AudioView, not an ipywidgets.Audio child)
        return [("", self.view)]

    def _summary(self) -> str:
        return f"{self.duration_s:.2f} s, {len(self.triggers)} detection(s)"
