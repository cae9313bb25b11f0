"""What the widgets share: static pictures (PNGs) drawn on demand, WAV bytes made in memory."""

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
    axes = fig.subplots(
        n_rows,
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": height_ratios} if height_ratios else None,
    )[:, 0]
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
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        int(sample_rate),
        int(sample_rate) * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


def rule_sliders(
    threshold: float, patience: int, refractory: int, *, style: dict, threshold_min: float = 0.05
) -> tuple[w.FloatSlider, w.IntSlider, w.IntSlider]:
    """The firing rule's three sliders (threshold, patience in steps, refractory in steps), each redrawing
    only when let go (``continuous_update=False``)."""
    threshold_slider = w.FloatSlider(
        value=threshold,
        min=threshold_min,
        max=0.99,
        step=0.01,
        description="threshold",
        style=style,
        continuous_update=False,
    )
    patience_slider = w.IntSlider(
        value=patience, min=1, max=40, description="patience", style=style, continuous_update=False
    )
    refractory_slider = w.IntSlider(
        value=refractory, min=0, max=200, description="refractory", style=style, continuous_update=False
    )
    return threshold_slider, patience_slider, refractory_slider


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


#: Whether the widgets' static copies (what a stored notebook or a handout shows) carry their audio.
_STATIC_AUDIO = {"on": False}
#: Sample rate of the audio in static copies: enough for speech and the chime, a third of the size.
STATIC_AUDIO_RATE = 16_000


def embed_audio_in_static_copies(on: bool = True) -> None:
    """Make every widget's static copy carry its audio as ``<audio>`` players (16 kHz WAV inside the page).

    Off by default: the lessons are stored without it (it would add megabytes to each notebook);
    ``tools/export_handouts.py`` turns it on while it runs a lesson for a handout.
    """
    _STATIC_AUDIO["on"] = bool(on)


def static_audio_html(clips) -> str:
    """``<audio>`` players for ``clips``, ``[(label, ipywidgets.Audio), ...]`` ("" while embedding is off)."""
    if not _STATIC_AUDIO["on"]:
        return ""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    parts = []
    for label, player in clips:
        if not player.value:
            continue
        rate, x = wavfile.read(io.BytesIO(bytes(player.value)))
        x = resample_poly(x.astype(np.float64) / 32768.0, STATIC_AUDIO_RATE, rate)
        data = base64.b64encode(wav_bytes(x, STATIC_AUDIO_RATE)).decode("ascii")
        caption = f"<b>{html_escape(label)}</b><br>" if label else ""
        parts.append(
            f'<div style="margin:4px 0">{caption}<audio controls preload="none" '
            f'src="data:audio/wav;base64,{data}"></audio></div>'
        )
    return "".join(parts)


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class FigureBox(w.VBox):
    """A ``VBox`` with a static matplotlib picture of what its browser-drawn children show.

    The browser draws the widget; the picture is for what has no browser: an exported notebook, a
    notebook opened without its kernel, nbval, the handouts. It is drawn only when asked for (``.figure``,
    ``.png``, the widget's display data), so a control answered by the kernel does not wait for
    matplotlib. Subclasses return it from :meth:`_static_figure` and call :meth:`_invalidate` when what it
    shows has changed. The PNG is offered as ``image/png`` in the display data; the short ``repr`` keeps
    that output stable.
    """

    def __init__(self, **kwargs):
        self._figure: Figure | None = None
        self._png = b""
        super().__init__(**kwargs)

    def _static_figure(self) -> Figure | None:
        """The static picture of the current state (``None``: nothing to show yet)."""
        return None

    def _invalidate(self) -> None:
        """What the picture shows has changed: draw it again when it is next asked for."""
        self._figure, self._png = None, b""

    @property
    def figure(self) -> Figure | None:
        """The static picture (a matplotlib ``Figure``), drawn on first use after each change."""
        if self._figure is None:
            self._figure = self._static_figure()
        return self._figure

    @property
    def png(self) -> bytes:
        """The static picture as PNG bytes (``b""`` while there is nothing to show)."""
        if not self._png and self.figure is not None:
            self._png = figure_png(self.figure)
        return self._png

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None and self.png:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
            audio = static_audio_html(self._static_audio())
            if audio:  # a handout: the picture and the clip's player
                data["text/html"] = f'<img src="data:image/png;base64,{data["image/png"]}">{audio}'
        return data

    def _static_audio(self) -> list:
        """``[(label, ipywidgets.Audio)]``: what the static copy plays (every Audio child, unlabelled)."""
        return [("", child) for child in self.children if isinstance(child, w.Audio)]

    def _summary(self) -> str:
        return ""

    def __repr__(self) -> str:
        summary = self._summary()
        return f"{type(self).__name__}({summary})"
