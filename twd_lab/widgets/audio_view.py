"""AudioView: a clip drawn in the browser (waveform, spectrogram, label spans, marked regions, probabilities,
threshold, detections on one time axis), played with a playhead at screen rate, click or drag to seek,
hover for time and value, zoom on the time axis (Ctrl/Alt + wheel, or shift-drag a region and "zoom").

The data crosses once per clip, as binary traits (the WAV, the spectrogram as bytes, probabilities and
their times as float32); the browser draws it at the canvas's device resolution and animates the playhead.
With ``fire_in_browser`` the browser also applies the firing rule (``threshold``, ``patience``,
``refractory``, as :class:`~twd_lab.metrics.TriggerPicker`) to the stored probabilities, so a slider
``jslink``-ed to those traits is answered without the kernel. This one module draws the AudioPlayer,
the SynthesisExplorer and the DetectionDemo.
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets as t

from twd_lab.constants import HOP, NOVERLAP, SAMPLE_RATE
from twd_lab.widgets._anywidget import esm, f32_buffer, js_source

__all__ = ["AudioView", "label_spans", "spectrogram_bytes", "wave_envelope"]

#: The spectrogram is shown up to this frequency (the voices live below it) over this many dB.
MAX_KHZ = 8.0
DB_RANGE = 70.0


def spectrogram_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE):
    """The lab's spectrogram of ``samples`` as ``(bytes, rows, cols, end_s, top_khz, db_min, db_max)``:
    log power, rows 0 Hz upward to ``MAX_KHZ`` only, scaled to 0-255 over the top ``DB_RANGE`` dB,
    row-major uint8."""
    from twd_lab.spectrogram import spectrogram

    spec = spectrogram(samples)
    n_freq, n_frames = spec.shape
    hz_per_row = (sample_rate / 2) / (n_freq - 1)
    rows = min(n_freq, int(MAX_KHZ * 1000 / hz_per_row) + 1)
    db = 10 * np.log10(spec[:rows] + 1e-10)
    top = float(db.max()) if db.size else 0.0
    scaled = np.clip((db - (top - DB_RANGE)) / DB_RANGE * 255, 0, 255).astype(np.uint8)
    end_s = (n_frames * HOP + NOVERLAP) / sample_rate
    return scaled.tobytes(), rows, n_frames, end_s, (rows - 1) * hz_per_row / 1000, top - DB_RANGE, top


#: Columns of the waveform's envelope: enough for a wide screen, zoomed in eightfold.
WAVE_COLUMNS = 4000


def wave_envelope(samples: np.ndarray, columns: int = WAVE_COLUMNS) -> np.ndarray:
    """``(columns, 2)`` min and max of ``samples`` over equal stretches (fewer columns for short clips)."""
    x = np.asarray(samples, np.float32).reshape(-1)
    columns = max(1, min(columns, x.size))
    edges = np.linspace(0, x.size, columns + 1).astype(np.int64)
    return np.stack([np.minimum.reduceat(x, edges[:-1]), np.maximum.reduceat(x, edges[:-1])], axis=1)


def label_spans(labels, step_s: float) -> list[list[float]]:
    """Runs of ones in a 0/1 label sequence as ``[[start_s, end_s], ...]`` (each step ``step_s`` long)."""
    y = np.asarray(labels).reshape(-1) > 0.5
    edges = np.diff(np.r_[0, y.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [[round(a * step_s, 4), round(b * step_s, 4)] for a, b in zip(starts, ends)]


class AudioView(anywidget.AnyWidget):
    """The browser-drawn view of one clip (see the module's notes). ``value``: the clip as WAV bytes.

    Synced: ``position_s`` (the playhead, seconds; set it to seek), ``playing``, ``threshold``,
    ``triggers`` (seconds), ``label_spans`` (``[[start_s, end_s]]``), ``regions``, ``duration_s``; with
    ``fire_in_browser``, ``patience`` and ``refractory`` (steps) too.
    """

    _esm = esm("audio_player.js")
    _css = js_source("widgets.css")

    value = t.Bytes(b"").tag(sync=True)
    duration_s = t.Float(0.0).tag(sync=True)
    spec = t.Bytes(b"").tag(sync=True)
    spec_shape = t.List(t.Int(), default_value=[0, 0]).tag(sync=True)
    spec_end_s = t.Float(0.0).tag(sync=True)
    spec_top_khz = t.Float(MAX_KHZ).tag(sync=True)
    spec_db = t.List(t.Float(), default_value=[-70.0, 0.0]).tag(sync=True)
    label_spans = t.List(t.List(t.Float())).tag(sync=True)
    has_labels = t.Bool(False).tag(sync=True)
    probs = t.Bytes(b"").tag(sync=True)
    prob_times = t.Bytes(b"").tag(sync=True)
    threshold = t.Float(0.5).tag(sync=True)
    triggers = t.List(t.Float()).tag(sync=True)
    fire_in_browser = t.Bool(False).tag(sync=True)
    patience = t.Int(1).tag(sync=True)
    refractory = t.Int(0).tag(sync=True)
    #: ``[[start_s, end_s, name, css colour]]``: bands over every row, named on the top one.
    regions = t.List(t.List()).tag(sync=True)
    #: The waveform's envelope: float32 (min, max) pairs, one per column of ``WAVE_COLUMNS``.
    wave = t.Bytes(b"").tag(sync=True)
    position_s = t.Float(0.0).tag(sync=True)
    playing = t.Bool(False).tag(sync=True)

    def show(
        self,
        samples: np.ndarray,
        wav: bytes,
        *,
        sample_rate: int = SAMPLE_RATE,
        labels=None,
        label_step_s: float = 0.0,
        probs=None,
        prob_times=None,
        threshold: float = 0.5,
        triggers=(),
        new_clip: bool = True,
        regions=(),
        waveform: bool = False,
    ) -> None:
        """Send what is shown; the clip itself (WAV, spectrogram, waveform) only when ``new_clip``."""
        with self.hold_sync():
            if new_clip:
                self.wave = bytes(f32_buffer(wave_envelope(samples))) if waveform else b""
                data, rows, cols, end_s, top_khz, db_min, db_max = spectrogram_bytes(samples, sample_rate)
                self.value = wav
                self.duration_s = samples.size / sample_rate
                self.spec, self.spec_shape, self.spec_end_s = data, [rows, cols], end_s
                self.spec_top_khz, self.spec_db = top_khz, [round(db_min, 2), round(db_max, 2)]
                self.position_s = 0.0
            self.has_labels = labels is not None
            self.label_spans = [] if labels is None else label_spans(labels, label_step_s)
            if probs is None:
                self.probs = self.prob_times = b""
            else:
                self.probs = bytes(f32_buffer(probs))
                self.prob_times = bytes(f32_buffer(prob_times))
            self.threshold = float(threshold)
            self.triggers = [float(x) for x in triggers]
            self.regions = [[float(a), float(b), str(name), str(color)] for a, b, name, color in regions]
