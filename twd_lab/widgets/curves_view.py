"""CurvesView: training curves drawn in the browser, one panel per metric with its ``val_`` alongside.

The history is small (a few numbers an epoch) and crosses as JSON after each epoch; the browser draws it
at the device's resolution and names the values under the pointer.
:class:`~twd_lab.widgets.training_monitor.TrainingMonitor` shows one.
"""

from __future__ import annotations

import anywidget
import traitlets as t

from twd_lab.widgets._anywidget import esm, js_source

__all__ = ["CurvesView"]


class CurvesView(anywidget.AnyWidget):
    """``history``: ``{name: [value per epoch]}``; ``panels``: the names drawn, in order; ``epochs``: the
    length of the time axis (the epochs planned)."""

    _esm = esm("curves.js")
    _css = js_source("widgets.css")

    history = t.Dict().tag(sync=True)
    panels = t.List(t.Unicode()).tag(sync=True)
    epochs = t.Int(1).tag(sync=True)
