"""ThresholdExplorer: precision, recall, false accepts per hour and the DET curve as the threshold moves."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w
import numpy as np

from twd_lab.constants import PATIENCE, REFRACTORY, STEP_S, THRESHOLD
from twd_lab.widgets._common import FigureBox, rule_sliders
from twd_lab.widgets.det_view import scores_table_html


def pooled_scores(
    probs_per_clip,
    true_end_times,
    durations,
    *,
    threshold: float = THRESHOLD,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
    step_s: float = STEP_S,
):
    """Event scores pooled over clips at one operating point (:func:`twd_lab.metrics.event_scores`)."""
    from twd_lab.metrics import EventScores, event_scores, find_triggers, steps_to_seconds

    total = EventScores(0, 0, 0, 0.0, 0.0)
    for probs, ends, duration in zip(probs_per_clip, true_end_times, durations):
        fires = steps_to_seconds(find_triggers(probs, threshold, patience, refractory), step_s)
        total = total + event_scores(ends, fires, duration)
    return total


class ThresholdExplorer(FigureBox):
    """Move the threshold (and patience, refractory) and watch the event metrics and the DET curve.

    ``probs_per_clip``: the model's per-step probabilities for each clip; ``true_end_times``: for each
    clip, the times (s) where a trigger word ends; ``durations``: each clip's length in seconds.
    ``.scores`` is the :class:`~twd_lab.metrics.EventScores` at the current setting, ``.curve`` the
    :class:`~twd_lab.metrics.DetCurve` for the current patience and refractory, ``.table`` their table.

    The browser holds the clips' probabilities (sent once) and answers the sliders itself: the table, the
    DET curve and the labelled point are computed and drawn there (``.det_view``, a
    :class:`~twd_lab.widgets.det_view.DetView`); the kernel's ``.scores``, ``.curve`` and ``.table`` follow.
    ``.figure`` is the static picture (the curve and the point), drawn when asked for.
    """

    def __init__(
        self,
        probs_per_clip: Sequence,
        true_end_times: Sequence[Sequence[float]],
        durations: Sequence[float],
        *,
        threshold: float = THRESHOLD,
        patience: int = PATIENCE,
        refractory: int = REFRACTORY,
        thresholds: Sequence[float] | None = None,
    ):
        super().__init__()
        if not (len(probs_per_clip) == len(true_end_times) == len(durations)):
            raise ValueError(
                "probs_per_clip, true_end_times and durations need one entry per clip, got "
                f"{len(probs_per_clip)}, {len(true_end_times)} and {len(durations)}"
            )
        self.probs = [np.asarray(p, np.float32).reshape(-1) for p in probs_per_clip]
        self.ends = [list(map(float, e)) for e in true_end_times]
        self.durations = [float(d) for d in durations]
        self.thresholds = np.asarray(thresholds if thresholds is not None else np.linspace(0.05, 0.95, 19))
        style = {"description_width": "80px"}
        self.threshold, self.patience, self.refractory = rule_sliders(
            threshold, patience, refractory, style=style, threshold_min=0.01
        )
        self.table = w.HTML()  # the kernel's table (the browser draws its own, in the DetView)
        from twd_lab.widgets.det_view import DetView

        # the table and DET plot are computed and drawn in the browser, from the clips sent once; the
        # sliders are linked to it there, so they are answered without the kernel
        self.det_view = DetView(
            threshold=float(threshold), patience=int(patience), refractory=int(refractory)
        )
        self.det_view.store_clips(self.probs, self.ends, self.durations, step_s=STEP_S)
        for slider, name in (
            (self.threshold, "threshold"),
            (self.patience, "patience"),
            (self.refractory, "refractory"),
        ):
            w.jslink((slider, "value"), (self.det_view, name))
        self.children = (w.HBox([self.threshold, self.patience, self.refractory]), self.det_view)
        self.curve = None
        self.scores = None
        self.threshold.observe(lambda _: self.update(), names="value")
        self.patience.observe(lambda _: self.update(new_curve=True), names="value")
        self.refractory.observe(lambda _: self.update(new_curve=True), names="value")
        self.update(new_curve=True)

    def update(self, new_curve: bool = False) -> None:
        """Recompute the scores at the current setting (and the DET curve if patience/refractory moved)."""
        from twd_lab.metrics import det_curve

        kwargs = {"patience": int(self.patience.value), "refractory": int(self.refractory.value)}
        if new_curve or self.curve is None:
            self.curve = det_curve(
                self.ends, self.probs, durations_s=self.durations, thresholds=self.thresholds, **kwargs
            )
            self.det_view.show_curve(
                self.curve, f"patience {kwargs['patience']}, refractory {kwargs['refractory']}"
            )
        self.scores = pooled_scores(
            self.probs, self.ends, self.durations, threshold=float(self.threshold.value), **kwargs
        )
        self.det_view.show_point(
            float(self.threshold.value), self.scores.false_accepts_per_hour, self.scores.miss_rate
        )
        self._redraw()

    def _redraw(self) -> None:
        self._invalidate()
        self.table.value = scores_table_html(self.scores)

    def _static_figure(self):
        from matplotlib.figure import Figure

        from twd_lab.metrics import plot_det

        s = self.scores
        fig = Figure(figsize=(5.5, 3.4), layout="constrained")
        ax = fig.add_subplot()
        # the static picture: the curve's points unlabelled, only the current threshold named
        plot_det(
            self.curve,
            ax=ax,
            label=f"patience {self.patience.value}, refractory {self.refractory.value}",
            annotate=False,
        )
        ax.plot(
            [s.false_accepts_per_hour],
            [s.miss_rate],
            "o",
            color="tab:red",
            ms=9,
            label=f"threshold {self.threshold.value:.2f}: {s.false_accepts_per_hour:.1f} FA/h, "
            f"miss {100 * s.miss_rate:.1f}%",
        )
        ax.legend(fontsize=8, loc="upper right")
        return fig

    def _summary(self) -> str:
        s = self.scores
        return (
            f"threshold={self.threshold.value:.2f}, precision={s.precision:.3f}, recall={s.recall:.3f}, "
            f"FA/h={s.false_accepts_per_hour:.1f}"
        )
