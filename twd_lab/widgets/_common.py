"""What the widgets share: figures shown as PNGs, WAV bytes made in memory, a static fallback."""

from __future__ import annotations

import base64
import io
import struct

import ipywidgets as w
import numpy as np
from matplotlib.figure import Figure

from twd_lab.constants import SAMPLE_RATE


def new_figure(n_rows: int = 1, *, height_per_row: float = 1.6, width: float = 9.0, height_ratios=None):
    """A ``Figure`` with ``n_rows`` Axes on one shared time axis.

    A plain matplotlib ``Figure``, not pyplot's: nothing is shown or left open behind the widget's back.
    """
    fig = Figure(figsize=(width, height_per_row * n_rows + 0.4), layout="constrained")
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)[:, 0]
    return fig, list(axes)


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def wav_bytes(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Float samples in [-1, 1] as the bytes of a 16-bit mono WAV file (made in memory, no file)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, int(sample_rate),
        int(sample_rate) * 2, 2, 16, b"data", len(pcm),
    )
    return header + pcm


def audio_widget(samples: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE) -> w.Audio:
    """An ``ipywidgets.Audio`` player (not autoplaying) for ``samples``."""
    player = w.Audio(format="wav", autoplay=False, loop=False, controls=True)
    if samples is not None:
        player.value = wav_bytes(samples, sample_rate)
    return player


def describe_times(times_s, limit: int = 8) -> str:
    """``"2.03 s, 6.02 s"``; past ``limit`` times, the first few, how many more, and the last one."""
    times = [float(t) for t in times_s]
    if not times:
        return "none"
    if len(times) <= limit:
        return ", ".join(f"{t:.2f} s" for t in times)
    head = ", ".join(f"{t:.2f} s" for t in times[: limit - 2])
    return f"{head}, ... {len(times) - (limit - 1)} more ..., {times[-1]:.2f} s ({len(times)} in all)"


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class FigureBox(w.VBox):
    """A ``VBox`` that draws a matplotlib figure into an ``Image`` child.

    Subclasses draw into ``self.figure`` and call :meth:`_show_figure`. The same PNG is offered as
    ``image/png`` in the widget's display data, so an exported notebook (or a notebook opened without
    its kernel) still shows a picture of the widget; its short ``repr`` keeps that output stable.
    """

    def __init__(self, **kwargs):
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto"))
        self.figure: Figure | None = None
        super().__init__(**kwargs)

    @property
    def png(self) -> bytes:
        """The figure shown, as PNG bytes (``b""`` before the first drawing)."""
        return bytes(self.image.value)

    def _show_figure(self, fig: Figure) -> None:
        self.figure = fig
        self.image.value = figure_png(fig)

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.image.value:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        return data

    def _summary(self) -> str:
        return ""

    def __repr__(self) -> str:
        summary = self._summary()
        return f"{type(self).__name__}({summary})"
