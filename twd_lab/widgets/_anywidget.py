"""The browser-drawn widgets' base: anywidget ES modules shipped as files in this package.

Each widget's browser side is a plain ES module under ``twd_lab/widgets/js/`` (no build step, nothing
fetched from a CDN); :func:`js_source` reads one. Data crosses as binary buffers (:func:`f32_buffer`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

JS_DIR = Path(__file__).resolve().parent / "js"


@cache
def js_source(name: str) -> str:
    """The text of ``twd_lab/widgets/js/<name>`` (an ES module or an AudioWorklet processor)."""
    path = JS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"the widget's browser code {path} is missing from the installed package")
    return path.read_text(encoding="utf-8")


def f32_buffer(values) -> memoryview:
    """``values`` as little-endian float32 bytes, a buffer a widget message or trait carries as is."""
    return memoryview(np.ascontiguousarray(np.asarray(values, dtype="<f4").reshape(-1)).tobytes())


def esm(name: str) -> str:
    """A widget's ES module: the shared helpers (``js/_common.js``) followed by ``js/<name>``, so a module
    needs no import that a notebook front end could not resolve."""
    return js_source("_common.js") + "\n" + js_source(name)
