"""StylesView: the KerasStylesStepper's pages (each style's code and summary), switched in the browser.

Every style's pages cross once; the style (a ``ToggleButtons``' ``index`` ``jslink``-ed to ``index``)
and the tab are answered by the browser. ``proof`` (comparing the outputs) is the kernel's answer to "compare".
"""

from __future__ import annotations

import anywidget
import traitlets as t

from twd_lab.widgets._anywidget import esm, js_source

__all__ = ["StylesView"]


class StylesView(anywidget.AnyWidget):
    """``pages``: ``{style: {"code": html, "summary": html}}``; ``styles``: their order; ``index``: the one
    shown; ``proof``: html."""

    _esm = esm("styles.js")
    _css = js_source("widgets.css")

    pages = t.Dict().tag(sync=True)
    styles = t.List(t.Unicode()).tag(sync=True)
    index = t.Int(0).tag(sync=True)
    proof = t.Unicode("").tag(sync=True)
