"""TrainingMonitor: a Keras callback that draws live loss and metric curves, with progress bars.

The browser draws the curves (:class:`~twd_lab.widgets.curves_view.CurvesView`); the history crosses
after each epoch. A matplotlib copy is drawn only when asked for (``.widget.figure``, the static picture).

This module imports Keras (the callback must subclass ``keras.callbacks.Callback``), so
``twd_lab.widgets`` loads it only when ``TrainingMonitor`` is first used.
"""

from __future__ import annotations

import math
import time

import ipywidgets as w
import keras

from twd_lab.widgets._common import FigureBox


class _MonitorBox(FigureBox):
    def __init__(self, monitor: TrainingMonitor):
        super().__init__()
        from twd_lab.widgets.curves_view import CurvesView

        self._monitor = monitor
        self.status = w.HTML("waiting for training to start")
        self.epoch_bar = w.IntProgress(value=0, min=0, max=1, description="epochs", bar_style="info")
        self.batch_bar = w.IntProgress(value=0, min=0, max=1, description="batches")
        self.view = CurvesView()
        self.children = (self.status, w.HBox([self.epoch_bar, self.batch_bar]), self.view)

    def _static_figure(self):
        return self._monitor.static_figure()

    def _summary(self) -> str:
        return f"{len(self._monitor.history.get('loss', []))} epoch(s) seen"


class TrainingMonitor(keras.callbacks.Callback):
    """Live plots of the loss and metrics, one point per epoch, with epoch and batch progress bars.

    Pass it to ``model.fit(..., callbacks=[TrainingMonitor()])``. In a notebook it displays itself when
    training starts (``display=False`` to place ``monitor.widget`` yourself). ``history`` holds every
    value logged at the end of each epoch (like ``History.history``); the browser draws the curves
    (``.widget.view``), ``.widget.figure`` is the same as a static picture.
    Each metric ``m`` is drawn with its ``val_m`` on the same axes; the batch loss of the running epoch
    is shown in the status line, refreshed every ``batch_every`` batches. ``metrics``: the panels to draw,
    in order (e.g. ``("loss", "accuracy", "dev_f1")``); by default ``loss`` and then the others by name.
    """

    def __init__(
        self,
        *,
        display: bool = True,
        batch_every: int = 5,
        max_panels: int = 3,
        metrics: tuple[str, ...] | None = None,
    ):
        super().__init__()
        self.display = display
        self.metrics = None if metrics is None else tuple(metrics)
        self.batch_every = max(1, int(batch_every))
        self.max_panels = int(max_panels)
        self.history: dict[str, list[float]] = {}
        self.widget = _MonitorBox(self)
        self._t0 = 0.0
        self._epoch = 0
        self._handle = None

    # -- Keras hooks ----------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._t0 = time.perf_counter()
        epochs = int((self.params or {}).get("epochs") or 1)
        self.widget.epoch_bar.max = epochs
        self.widget.epoch_bar.value = 0
        self.widget.view.epochs = epochs
        self.widget.status.value = f"training: {epochs} epoch(s)"
        if self.display:
            try:
                from IPython import get_ipython
                from IPython.display import display
            except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
                return
            if get_ipython() is not None:
                self._handle = display(self.widget, display_id=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        steps = (self.params or {}).get("steps")
        self.widget.batch_bar.max = int(steps) if steps else 1
        self.widget.batch_bar.value = 0

    def on_train_batch_end(self, batch, logs=None):
        self.widget.batch_bar.value = min(int(batch) + 1, self.widget.batch_bar.max)
        if logs and (int(batch) + 1) % self.batch_every == 0:
            shown = ", ".join(f"{k} {float(v):.4f}" for k, v in logs.items() if _is_number(v))
            self.widget.status.value = f"epoch {self._epoch + 1}, batch {int(batch) + 1}: {shown}"

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if _is_number(value):
                self.history.setdefault(key, []).append(float(value))
        self.widget.epoch_bar.value = min(int(epoch) + 1, self.widget.epoch_bar.max)
        self.widget.batch_bar.value = self.widget.batch_bar.max
        last = ", ".join(f"{k} {v[-1]:.4f}" for k, v in self.history.items())
        self.widget.status.value = (
            f"epoch {int(epoch) + 1}/{self.widget.epoch_bar.max} done "
            f"({time.perf_counter() - self._t0:.0f} s): {last}"
        )
        self.redraw()

    def on_train_end(self, logs=None):
        self.widget.epoch_bar.bar_style = "success"
        self.widget.status.value = self.widget.status.value.replace("done", "done, training finished", 1)
        if self._handle is not None:
            # Re-send the display data so that a saved notebook keeps the final curves as its picture.
            self._handle.update(self.widget)

    # -- drawing --------------------------------------------------------------------------------

    def panels(self) -> list[str]:
        """The metrics drawn, one panel each: ``metrics``, or ``loss`` first and then the others (their
        ``val_`` alongside)."""
        if self.metrics is not None:
            return [k for k in self.metrics if k in self.history][: self.max_panels]
        names = [k for k in self.history if not k.startswith("val_") and k != "learning_rate"]
        names.sort(key=lambda k: (k != "loss", k))
        return names[: self.max_panels]

    def redraw(self) -> None:
        """Send the history to the browser (and let the static picture be drawn again when asked for)."""
        with self.widget.view.hold_sync():
            # a NaN loss crosses as null: JSON has no NaN
            self.widget.view.history = {
                k: [x if math.isfinite(x) else None for x in v] for k, v in self.history.items()
            }
            self.widget.view.panels = self.panels()
        self.widget._invalidate()

    def static_figure(self):
        """The curves as a matplotlib ``Figure`` (``None`` before the first epoch)."""
        panels = self.panels()
        if not panels:
            return None
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(4.0 * len(panels), 2.6), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, name in zip(axes, panels):
            for key, style in ((name, "-o"), (f"val_{name}", "--s")):
                if key in self.history:
                    values = self.history[key]
                    ax.plot(range(1, len(values) + 1), values, style, ms=3, label=key)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=8)
        return fig

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"TrainingMonitor({len(self.history.get('loss', []))} epoch(s))"


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
