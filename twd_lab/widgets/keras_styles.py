"""KerasStylesStepper: the same network written three ways, and the proof that they compute the same thing."""

from __future__ import annotations

import os
from contextlib import contextmanager

import ipywidgets as w
import numpy as np

from twd_lab.constants import N_FREQ, TX
from twd_lab.widgets._common import html_escape

STYLE_LABELS = {"sequential": "Sequential", "functional": "Functional", "subclassed": "Subclassed"}
#: Code and summary in a monospace font whose glyphs all have one width (a handout has no code font).
PRE_STYLE = (
    "font-family:'DejaVu Sans Mono',Menlo,Consolas,'Liberation Mono',monospace;font-size:12px;"
    "white-space:pre;overflow-x:auto"
)


#: Box-drawing characters of Keras's summary -> ASCII: a handout's or browser's "monospace" font often
#: lacks them, and the substitute glyphs have other widths, which skews the table.
_ASCII_BOX = str.maketrans(
    {
        **dict.fromkeys("━─═", "-"),
        **dict.fromkeys("┃│║", "|"),
        **dict.fromkeys("┏┓┗┛┡┩└┘┌┐├┤┬┴┼┳┻╇╋╈╉╊┠┨┯┷┿╞╡╪", "+"),
    }
)


@contextmanager
def _console_width(columns: int):
    """Let Keras's rich console be ``columns`` wide: it otherwise takes ``COLUMNS`` (80 when unset) and
    cuts the summary's last column ("Param #") off."""
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "JUPYTER_COLUMNS")}
    os.environ.update(COLUMNS=str(columns), JUPYTER_COLUMNS=str(columns))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def model_summary(model, line_length: int = 100, *, ascii_box: bool = True) -> str:
    """``model.summary()`` as plain text, ``line_length`` characters wide whatever the terminal.

    ``ascii_box``: draw the table with ``+ - |`` instead of box-drawing characters.
    """
    lines: list[str] = []
    with _console_width(line_length), _no_display():
        model.summary(print_fn=lambda line, **_: lines.append(line), line_length=line_length)
    text = "\n".join(lines)
    return text.translate(_ASCII_BOX) if ascii_box else text


@contextmanager
def _no_display():
    """Swallow what Keras's rich console sends to the notebook itself (an empty HTML output) while it
    prints into ``print_fn``."""
    try:
        from IPython import get_ipython
        from IPython.utils.capture import capture_output
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        yield
        return
    if get_ipython() is None:
        yield
        return
    with capture_output(stdout=False, stderr=False, display=True):
        yield


def compare_styles(input_length: int = TX, *, seed: int = 0, models: dict | None = None) -> dict[str, float]:
    """Build the three styles, give them the functional model's weights, and run them on one input.

    Returns ``{style: max |output(style) - output(functional)|}`` (0.0 for the functional model itself).
    The input is a seeded random spectrogram of ``input_length`` frames; the models run in inference
    mode, so Dropout is off and the outputs are deterministic.
    """
    from twd_lab.models import STYLES, build_model, copy_weights

    models = dict(models or {})
    for style in STYLES:
        if style not in models:
            models[style] = build_model(style, input_length=input_length)
    reference = models["functional"]
    # Fresh models start from different random weights: give every one the functional model's.
    for style in STYLES:
        if style != "functional":
            copy_weights(reference, models[style])
    x = np.random.default_rng(seed).gamma(1.0, 100.0, size=(1, input_length, N_FREQ)).astype(np.float32)
    # predict() runs a compiled graph in inference mode: ~40x faster than an eager call on a CPU.
    outputs = {style: np.asarray(models[style].predict(x, verbose=0)) for style in STYLES}
    return {style: float(np.max(np.abs(outputs[style] - outputs["functional"]))) for style in STYLES}


class KerasStylesStepper(w.VBox):
    """Step through the Sequential, Functional and Subclassed versions of the lab network.

    For the chosen ``style`` it shows the code (:func:`twd_lab.models.model_source`), the model's summary,
    and the proof that, with shared weights, the three give the same output (max absolute difference).
    The three models are built when the stepper is made (Keras is imported then, not when this module
    is imported), and every style's code and summary go to the browser (``.view``, a
    :class:`~twd_lab.widgets.styles_view.StylesView`), which switches styles and tabs itself.
    ``input_length`` sets the frames of the models built (5511 by default, the lab's).
    """

    def __init__(self, *, style: str = "sequential", input_length: int = TX, seed: int = 0):
        super().__init__()
        from twd_lab.widgets.styles_view import StylesView

        self.input_length = int(input_length)
        self.seed = int(seed)
        self.models: dict = {}
        self.differences: dict[str, float] | None = None
        self.style = w.ToggleButtons(
            options=[(label, key) for key, label in STYLE_LABELS.items()], value=style, description="style"
        )
        self.next_button = w.Button(description="next style ▶", tooltip="show the next style")
        self.code = w.HTML()
        self.summary = w.HTML()
        self.proof = w.HTML()
        self.compare_button = w.Button(
            description="compare outputs",
            button_style="info",
            tooltip="copy weights between the styles and compare their outputs",
        )
        # every style's code and summary go to the browser once; the style buttons switch them there
        self.view = StylesView(
            styles=list(STYLE_LABELS),
            index=self.style.index,
            pages={key: self._pages(key) for key in STYLE_LABELS},
        )
        w.jslink((self.style, "index"), (self.view, "index"))
        self.children = (w.HBox([self.style, self.next_button, self.compare_button]), self.view)
        self.style.observe(lambda _: self.show(), names="value")
        self.next_button.on_click(lambda _: self.next())
        self.compare_button.on_click(lambda _: self.compare())
        self.proof.value = "<i>Press “compare outputs” (or call <code>.compare()</code>).</i>"
        self.view.proof = self.proof.value
        self.show()

    def _pages(self, style: str) -> dict[str, str]:
        """The code and summary of ``style`` as HTML (the model is built here if it is not yet)."""
        from twd_lab.models import model_source

        summary = model_summary(self.model(style))
        return {
            "code": f'<pre style="{PRE_STYLE};line-height:1.3">{html_escape(model_source(style))}</pre>',
            "summary": f'<pre style="{PRE_STYLE};line-height:1.2">{html_escape(summary)}</pre>',
        }

    def next(self) -> None:
        """Show the next style (wrapping around)."""
        keys = list(STYLE_LABELS)
        self.style.value = keys[(keys.index(self.style.value) + 1) % len(keys)]

    def model(self, style: str):
        """The model of ``style`` (built on first use)."""
        if style not in self.models:
            from twd_lab.models import build_model

            self.models[style] = build_model(style, input_length=self.input_length)
        return self.models[style]

    def show(self) -> None:
        """Show the code and summary of the current style (the browser switches its own copy at once)."""
        style = self.style.value
        page = self.view.pages.get(style) or self._pages(style)
        self.code.value, self.summary.value = page["code"], page["summary"]
        self.view.index = self.style.index

    def compare(self) -> dict[str, float]:
        """Share the functional model's weights with the other two and compare their outputs."""
        from twd_lab.models import STYLES

        for style in STYLES:
            self.model(style)
        self.differences = compare_styles(self.input_length, seed=self.seed, models=self.models)
        rows = "".join(
            f"<tr><td>{STYLE_LABELS[s]}</td><td>{d:.1e}</td></tr>" for s, d in self.differences.items()
        )
        params = {STYLE_LABELS[s]: self.models[s].count_params() for s in STYLES}
        same = len(set(params.values())) == 1
        self.proof.value = (
            "Weights copied from the Functional model into the other two (layer by layer, by name); "
            f"one random input of {self.input_length} frames (seed {self.seed}), inference mode.<br>"
            "<table><tr><th>style</th><th>max |output − Functional output|</th></tr>"
            f"{rows}</table>"
            f"Parameters: {', '.join(f'{k} {v:,}' for k, v in params.items())}"
            f" ({'the same' if same else 'DIFFERENT'})."
        )
        self.view.proof = self.proof.value
        return self.differences

    def _repr_mimebundle_(self, **kwargs):
        # A static copy of what the tabs show, for exported notebooks and notebooks opened without a kernel.
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/html"] = (
                f"<b>{STYLE_LABELS[self.style.value]}</b>{self.code.value}"
                f"{self.summary.value}<div>{self.proof.value}</div>"
            )
        return data

    def __repr__(self) -> str:
        return f"KerasStylesStepper(style={self.style.value!r})"
