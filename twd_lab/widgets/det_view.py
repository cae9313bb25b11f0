"""DetView: a DET curve drawn in the browser, on log axes, with one labelled threshold at a time, and the
table of event scores at that threshold.

The curve (false accepts per hour and miss rate at each threshold) crosses once per patience/refractory
setting. With the clips' probabilities stored (:meth:`DetView.store_clips`: they cross once) the browser
scores each threshold itself, as :func:`twd_lab.metrics.event_scores` pooled over the clips does: the
table, the labelled point and the curve follow ``threshold``, ``patience`` and ``refractory`` (sliders
``jslink``-ed to them) without the kernel. Without them, a threshold is placed by interpolating along the
curve until the kernel's exact point (``point``, for ``point_threshold``) comes. Zero false accepts and
zero misses get a "0" lane beside each log axis.
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets as t

from twd_lab.widgets._anywidget import esm, f32_buffer, js_source

__all__ = ["DetView", "scores_table_html"]


def scores_table_html(s) -> str:
    """The table of an :class:`~twd_lab.metrics.EventScores` (det_plot.js writes the same one)."""
    return (
        "<table class='twd-scores' style='font-size:13px'>"
        f"<tr><td>precision</td><td><b>{s.precision:.3f}</b></td>"
        f"<td>({s.hits} of {s.n_triggers} detections are right)</td></tr>"
        f"<tr><td>recall</td><td><b>{s.recall:.3f}</b></td>"
        f"<td>({s.hits} of {s.n_words} words detected; miss rate {s.miss_rate:.3f})</td></tr>"
        f"<tr><td>F1</td><td><b>{s.f1:.3f}</b></td><td></td></tr>"
        f"<tr><td>false accepts / hour</td><td><b>{s.false_accepts_per_hour:.1f}</b></td>"
        f"<td>({s.false_accepts} in {s.negative_s / 60:.1f} min of audio without the word)</td></tr>"
        "</table>"
    )


class DetView(anywidget.AnyWidget):
    """The browser-drawn DET plot and score table (see the module's notes)."""

    _esm = esm("det_plot.js")
    _css = js_source("widgets.css")

    thresholds = t.List(t.Float()).tag(sync=True)
    fa_per_hour = t.List(t.Float()).tag(sync=True)
    miss_rate = t.List(t.Float()).tag(sync=True)
    threshold = t.Float(0.5).tag(sync=True)
    point = t.List(t.Float(), default_value=[0.0, 0.0]).tag(sync=True)
    point_threshold = t.Float(-1.0).tag(sync=True)
    caption = t.Unicode("").tag(sync=True)
    # the clips, for scoring in the browser: probabilities end to end (float32), each clip's length in
    # steps, word ends (s) and seconds without the word; the step (s) and the matching window (s)
    clip_probs = t.Bytes(b"").tag(sync=True)
    clip_lengths = t.List(t.Int()).tag(sync=True)
    clip_ends = t.List(t.List(t.Float())).tag(sync=True)
    clip_negative_s = t.List(t.Float()).tag(sync=True)
    step_s = t.Float(0.0).tag(sync=True)
    window = t.List(t.Float(), default_value=[-0.2, 1.2]).tag(sync=True)
    patience = t.Int(1).tag(sync=True)
    refractory = t.Int(0).tag(sync=True)

    def show_curve(self, curve, caption: str = "") -> None:
        """Send a :class:`~twd_lab.metrics.DetCurve` (its thresholds ascending)."""
        with self.hold_sync():
            self.thresholds = [float(x) for x in np.asarray(curve.thresholds)]
            self.fa_per_hour = [float(x) for x in np.asarray(curve.false_accepts_per_hour)]
            self.miss_rate = [float(x) for x in np.asarray(curve.miss_rate)]
            self.caption = caption

    def show_point(self, threshold: float, false_accepts_per_hour: float, miss_rate: float) -> None:
        """The exact operating point at ``threshold`` (computed by the kernel)."""
        with self.hold_sync():
            self.point = [float(false_accepts_per_hour), float(miss_rate)]
            self.point_threshold = float(threshold)

    def store_clips(self, probs_per_clip, true_end_times, durations, *, step_s: float, window=None) -> None:
        """Send the clips once, so that the browser scores every threshold itself."""
        from twd_lab.metrics import WINDOW_S, event_scores

        window = WINDOW_S if window is None else window
        probs = [np.asarray(p, np.float32).reshape(-1) for p in probs_per_clip]
        with self.hold_sync():
            self.clip_probs = bytes(f32_buffer(np.concatenate(probs) if probs else []))
            self.clip_lengths = [int(p.size) for p in probs]
            self.clip_ends = [sorted(float(e) for e in ends) for ends in true_end_times]
            self.clip_negative_s = [
                event_scores(ends, [], d, window).negative_s for ends, d in zip(true_end_times, durations)
            ]
            self.step_s = float(step_s)
            self.window = [float(window[0]), float(window[1])]
