"""SynthesisExplorer: move the sliders, and see (and hear) where each word went and what ``y`` became."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import numpy as np

from twd_lab.constants import BACKGROUND_GAIN_DB, MAX_ACTIVATES, MAX_NEGATIVES, SAMPLE_RATE, STEP_S, TY
from twd_lab.plotting import plot_labels
from twd_lab.widgets._common import FigureBox, new_figure, wav_bytes
from twd_lab.widgets.audio_player import draw_spectrogram

_ACTIVATE_COLOR = "tab:green"
_NEGATIVE_COLOR = "tab:orange"
_ACTIVATE_CSS, _NEGATIVE_CSS = "#2ca02c", "#ff7f0e"  # the same colours in the browser


def _load_raw(raw):
    """``raw`` -> (activates, negatives, backgrounds, background names)."""
    from twd_lab.audio import load_raw_audio

    if raw is None or isinstance(raw, (str, Path)):
        if raw is None:
            from twd_lab.assets_index import bundled_raw_dir

            root = Path(bundled_raw_dir())
        else:
            root = Path(raw)
        acts, negs, bgs = load_raw_audio(root, as_arrays=True)
        names = sorted(p.name for p in (root / "backgrounds").iterdir() if p.suffix.lower() == ".wav")
        names = [Path(n).stem for n in names]
        if len(names) != len(bgs):
            names = [f"background {i + 1}" for i in range(len(bgs))]
        return list(acts), list(negs), list(bgs), names
    acts, negs, bgs = raw
    return list(acts), list(negs), list(bgs), [f"background {i + 1}" for i in range(len(bgs))]


class SynthesisExplorer(FigureBox):
    """Controls for :func:`twd_lab.synthesis.synthesize_example`; every change re-synthesizes.

    ``raw``: ``None`` (the bundled training clips), a lab-style folder, or a tuple
    ``(activates, negatives, backgrounds)`` of float arrays at 44.1 kHz.

    Controls: ``seed``, ``n_activates`` (0-4), ``n_negatives`` (0-2), ``background`` (which one) and
    ``background_db`` (its gain before mixing). The browser draws (``.view``, an
    :class:`~twd_lab.widgets.audio_view.AudioView`, also ``.audio``: it plays the mix, ``.value`` its WAV
    bytes) the waveform with each activate (green) and negative (orange) highlighted, the spectrogram and
    ``y``, with the AudioPlayer's playhead, seeking and zoom; each change sends the new clip once.
    ``.figure`` is the same as a matplotlib picture (the static copy, drawn when asked for);
    ``.example`` is the :class:`~twd_lab.synthesis.SynthesizedExample` shown.
    """

    def __init__(
        self,
        raw=None,
        *,
        seed: int = 0,
        n_activates: int = 2,
        n_negatives: int = 1,
        background: int = 0,
        background_db: float = BACKGROUND_GAIN_DB,
    ):
        super().__init__()
        self.activates, self.negatives, self.backgrounds, names = _load_raw(raw)
        style = {"description_width": "110px"}
        wide = w.Layout(width="340px")
        self.seed = w.IntSlider(value=seed, min=0, max=999, description="seed", style=style, layout=wide)
        self.n_activates = w.IntSlider(
            value=n_activates, min=0, max=MAX_ACTIVATES, description="activates", style=style, layout=wide
        )
        self.n_negatives = w.IntSlider(
            value=n_negatives, min=0, max=MAX_NEGATIVES, description="negatives", style=style, layout=wide
        )
        self.background = w.Dropdown(
            options=[(n, i) for i, n in enumerate(names)],
            value=background,
            description="background",
            style=style,
            layout=wide,
        )
        self.background_db = w.FloatSlider(
            value=background_db,
            min=-40.0,
            max=0.0,
            step=1.0,
            description="background dB",
            style=style,
            layout=wide,
        )
        self.info = w.HTML()
        from twd_lab.widgets.audio_view import AudioView

        self.view = self.audio = AudioView()
        controls = w.HBox(
            [
                w.VBox([self.seed, self.n_activates, self.n_negatives]),
                w.VBox([self.background, self.background_db]),
            ]
        )
        self.children = (controls, self.info, self.view)
        self.example = None
        for control in (self.seed, self.n_activates, self.n_negatives, self.background, self.background_db):
            control.observe(self._on_change, names="value")
        self.resynthesize()

    def _on_change(self, _change=None) -> None:
        self.resynthesize()

    def resynthesize(self) -> None:
        """Synthesize the example for the current control values and send it to the browser."""
        from twd_lab.synthesis import synthesize_example

        self.example = synthesize_example(
            self.backgrounds[self.background.value],
            self.activates,
            self.negatives,
            rng=int(self.seed.value),
            n_activates=int(self.n_activates.value),
            n_negatives=int(self.n_negatives.value),
            background_gain_db=float(self.background_db.value),
        )
        ex = self.example
        regions = [
            (start / 1000, end / 1000, f"{kind}{i + 1}", color)
            for kind, segments, color in (
                ("A", ex.activate_segments, _ACTIVATE_CSS),
                ("N", ex.negative_segments, _NEGATIVE_CSS),
            )
            for i, (start, end) in enumerate(segments)
        ]
        self.view.show(
            ex.audio,
            wav_bytes(ex.audio, SAMPLE_RATE),
            labels=ex.y,
            label_step_s=STEP_S,
            regions=regions,
            waveform=True,
        )
        self._invalidate()
        self.info.value = self.describe()

    def _static_figure(self):
        ex = self.example
        fig, (ax_wave, ax_spec, ax_y) = new_figure(3, height_ratios=[1.0, 1.6, 0.9])
        t = np.arange(ex.audio.size) / SAMPLE_RATE
        ax_wave.plot(t[::20], ex.audio[::20], color="0.3", lw=0.5)
        ax_wave.set_ylabel("mix")
        for kind, segments, color in (
            ("A", ex.activate_segments, _ACTIVATE_COLOR),
            ("N", ex.negative_segments, _NEGATIVE_COLOR),
        ):
            for i, (start, end) in enumerate(segments):
                for ax in (ax_wave, ax_spec, ax_y):
                    ax.axvspan(start / 1000, end / 1000, color=color, alpha=0.25, lw=0)
                ax_wave.text(
                    (start + end) / 2000,
                    0.9,
                    f"{kind}{i + 1}",
                    transform=ax_wave.get_xaxis_transform(),
                    ha="center",
                    va="top",
                    fontsize=9,
                    color=color,
                    weight="bold",
                )
        draw_spectrogram(ax_spec, ex.audio, SAMPLE_RATE)
        plot_labels(ex.y, ax=ax_y)
        for ax in (ax_wave, ax_spec, ax_y):
            ax.set_xlabel("")
        ax_y.set_ylabel("y")
        ax_y.set_xlabel("time (s)")
        ax_y.set_xlim(0, ex.audio.size / SAMPLE_RATE)
        return fig

    def describe(self) -> str:
        """HTML: where each clip went, and which steps of ``y`` its label set."""
        ex = self.example
        rows = []
        for i, (start, end) in enumerate(ex.activate_segments):
            e = int(end * TY / 10000)
            last = min(e + 50, TY - 1)
            rows.append(
                f"<span style='color:green'><b>A{i + 1}</b></span> activate {start}–{end} ms "
                f"→ y = 1 at steps {e + 1}–{last} ({(e + 1) * STEP_S:.2f}–{last * STEP_S:.2f} s)"
            )
        for i, (start, end) in enumerate(ex.negative_segments):
            rows.append(
                f"<span style='color:darkorange'><b>N{i + 1}</b></span> negative {start}–{end} ms → y stays 0"
            )
        asked = (self.n_activates.value, self.n_negatives.value)
        placed = (len(ex.activate_segments), len(ex.negative_segments))
        if placed != asked:
            rows.append(
                f"(asked for {asked[0]} activates and {asked[1]} negatives; only {placed[0]} and "
                f"{placed[1]} found room)"
            )
        rows.append(f"y has {int(ex.y.sum())} ones out of {ex.y.size} steps")
        return "<br>".join(rows) if rows else "no words inserted: y is all zeros"

    def _static_audio(self) -> list:
        return [("", self.view)]  # the mix plays from the browser-drawn view

    def _summary(self) -> str:
        ex = self.example
        return f"seed={self.seed.value}, {len(ex.activate_segments)} activates, {len(ex.negative_segments)} negatives"
