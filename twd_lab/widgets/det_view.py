"""DetView: a DET curve drawn in the browser, on log axes, with one labelled threshold at a time.

The curve (false accepts per hour and miss rate at each threshold) crosses once per patience/refractory
setting; a threshold moved in the browser (a slider ``jslink``-ed to ``threshold``) is answered there, by
interpolating along the curve, and the kernel's exact point (``point``, for ``point_threshold``) replaces
it when it comes. Zero false accepts and zero misses get a "0" lane beside each log axis.
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets as t

from twd_lab.widgets._anywidget import esm, js_source

__all__ = ["DetView"]


class DetView(anywidget.AnyWidget):
    """The browser-drawn DET plot (see the module's notes)."""

    _esm = esm("det_plot.js")
    _css = js_source("widgets.css")

    thresholds = t.List(t.Float()).tag(sync=True)
    fa_per_hour = t.List(t.Float()).tag(sync=True)
    miss_rate = t.List(t.Float()).tag(sync=True)
    threshold = t.Float(0.5).tag(sync=True)
    point = t.List(t.Float(), default_value=[0.0, 0.0]).tag(sync=True)
    point_threshold = t.Float(-1.0).tag(sync=True)
    caption = t.Unicode("").tag(sync=True)

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
