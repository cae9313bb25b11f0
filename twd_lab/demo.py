"""The whole pipeline once, on the bundled defaults, with files a person can open (``twd-lab demo``).

1. synthesize a 10 s example from the bundled **held-out** voices (never heard in training): a background,
   two "activate"s and two other words, and its labels;
2. detect with the shipped model (or any model);
3. write into a new folder: the example (``example.wav``), the example with a chime wherever the detector
   fires (``chimed.wav``), a picture of spectrogram, labels and probabilities (``detection.png``) and the
   numbers (``summary.json``).

Nothing is overwritten: the default folder ``twd-lab-demo`` becomes ``twd-lab-demo-2``, ``-3``, ... when
it exists, and a folder named explicitly must be new or empty.

>>> result = run_demo(seed=0)                # doctest: +SKIP
>>> print(result.report())                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twd_lab.constants import LABEL_RUN, PATIENCE, REFRACTORY, SAMPLE_RATE, THRESHOLD
from twd_lab.detectors.base import Trigger
from twd_lab.metrics import match_firings

DEFAULT_DIR = "twd-lab-demo"
#: What summary.json's numbers are (written into it).
SUMMARY_MEANING = {
    "triggers.score": "the probability at the step where the detector fired (the first step above the "
    "threshold, or the patience-th)",
    "triggers.peak": "the highest probability of the run above the threshold in which it fired",
    "triggers.activate": "index into activates_ms of the word the firing detected (within -0.2...+1.2 s of "
    "its end), or null for a false alarm",
    "max_probability": "the highest probability anywhere in the clip",
}
FILES = {
    "example": "example.wav",
    "chimed": "chimed.wav",
    "figure": "detection.png",
    "summary": "summary.json",
}


@dataclass
class DemoResult:
    """What :func:`run_demo` made and found."""

    folder: Path
    files: dict[str, Path]
    activates_ms: list[tuple[int, int]]
    negatives_ms: list[tuple[int, int]]
    triggers: list[Trigger]
    threshold: float = THRESHOLD
    notes: list[str] = field(default_factory=list)
    #: for each trigger, the index in ``activates_ms`` of the word it detected, or None (a false alarm)
    matches: list[int | None] = field(default_factory=list)
    #: for each trigger, the highest probability of the run above the threshold in which it fired
    peaks: list[float] = field(default_factory=list)

    def report(self) -> str:
        """A few lines for the terminal: the labels, the detections, the files, what to do next."""
        lines = ["Synthesized a 10 s example from the bundled held-out voices (never used in training):"]
        for start, end in self.activates_ms:
            lines.append(
                f'  "activate"    {start / 1000:5.2f}-{end / 1000:5.2f} s  -> labels 1 for {LABEL_RUN} steps after'
            )
        for start, end in self.negatives_ms:
            lines.append(f"  another word {start / 1000:5.2f}-{end / 1000:5.2f} s  -> labels stay 0")
        if self.triggers:
            lines.append(
                f"The detector fired {len(self.triggers)} time(s) at threshold {self.threshold:g} "
                "(p: the probability at the step it fired; peak: the highest of that run above the "
                "threshold):"
            )
            for trigger, word, peak in zip(self.triggers, self.matches, self.peaks):
                what = (
                    f'right after "activate" {word + 1} (it ended {self.activates_ms[word][1] / 1000:.2f} s)'
                    if word is not None
                    else 'a false alarm: no "activate" ended just before'
                )
                lines.append(f"  {trigger.time_s:5.2f} s  {what}; p {trigger.score:.2f}, peak {peak:.2f}")
        else:
            lines.append(f"The detector did not fire at threshold {self.threshold:g}.")
        missed = [i for i in range(len(self.activates_ms)) if i not in self.matches]
        for i in missed:
            lines.append(f'  missed: "activate" {i + 1}, which ended {self.activates_ms[i][1] / 1000:.2f} s')
        lines += self.notes
        lines.append(f"Files in {self.folder}:")
        for key in ("figure", "example", "chimed", "summary"):
            lines.append(f"  {self.files[key]}")
        lines.append(f"Open the lessons: {lessons_hint()}")
        lines.append(
            'Your own voice: record yourself saying "activate" and run `twd-lab detect me.wav`, or '
            "`twd-lab listen` with a microphone (the speech-embedding detector, best on real voices)"
        )
        return "\n".join(lines)


def lessons_hint() -> str:
    """How to open the notebooks: from the repository when it is there, else where to get them; with
    the notebooks extra to install first when JupyterLab is not installed (a plain install has none)."""
    import importlib.util

    repo = Path(__file__).resolve().parents[1]
    have_jupyter = importlib.util.find_spec("jupyterlab") is not None
    if (repo / "notebooks").is_dir():
        install = "" if have_jupyter else f'python -m pip install -e "{repo}[notebooks]" && '
        return f"{install}jupyter lab {repo / 'notebooks'}"
    install = "" if have_jupyter else 'python -m pip install "twd-lab[notebooks]", then '
    return f"{install}jupyter lab notebooks/   (in a clone of the twd-lab repository)"


def new_folder(out: str | os.PathLike | None = None, *, base: str | os.PathLike = ".") -> Path:
    """Create and return the output folder without touching anything that exists.

    ``out=None``: ``base/twd-lab-demo``, or the first free ``twd-lab-demo-N`` (N = 2, 3, ...). A named
    ``out`` must not exist or be an empty folder (``FileExistsError`` otherwise).
    """
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise FileExistsError(f"{path} already exists and is not an empty folder; choose a new --out")
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path(base)
    for n in range(1, 10_000):
        path = base / (DEFAULT_DIR if n == 1 else f"{DEFAULT_DIR}-{n}")
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free {DEFAULT_DIR}-N folder in {base}")


#: Colours of the picture: words, and firings that detected a word or did not.
ACTIVATE_COLOUR, OTHER_WORD_COLOUR = "tab:green", "tab:gray"
CORRECT_COLOUR, FALSE_COLOUR = "darkgreen", "darkviolet"


def draw(
    audio,
    y,
    probs,
    triggers,
    threshold: float = THRESHOLD,
    *,
    activates_ms=(),
    negatives_ms=(),
    matches=None,
    peaks=None,
):
    """The demo's picture as a ``matplotlib.figure.Figure``: spectrogram, labels, probabilities and firings.

    ``activates_ms``/``negatives_ms``: where the words are, shaded and named on every row. ``matches``:
    for each trigger the activate it detected or ``None``; correct firings are drawn as solid green lines,
    false alarms as dotted violet ones, each with a dot at the probability with which it fired (and its
    ``peaks``, if given: the highest probability of the run above the threshold it fired in).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    from twd_lab.detection import plot_detection

    axes = plot_detection(audio, probs, y=y, threshold=threshold)
    words = [(s, e, "activate", ACTIVATE_COLOUR) for s, e in activates_ms]
    words += [(s, e, "other word", OTHER_WORD_COLOUR) for s, e in negatives_ms]
    label_at = blended_transform_factory(axes[0].transData, axes[0].transAxes)
    for k, (start, end, name, colour) in enumerate(sorted(words)):
        for ax in axes:
            ax.axvspan(start / 1000, end / 1000, color=colour, alpha=0.18, linewidth=0)
        axes[0].text(
            (start + end) / 2000,
            0.97 - 0.16 * (k % 2),
            name,
            transform=label_at,
            ha="center",
            va="top",
            fontsize=8,
            color="black",
            bbox={"facecolor": "white", "edgecolor": colour, "alpha": 0.85, "pad": 1.5},
        )
    matches = [True] * len(triggers) if matches is None else matches
    peaks = [None] * len(triggers) if peaks is None else peaks
    for trigger, word, peak in zip(triggers, matches, peaks):
        correct = word is not None
        colour, style = (CORRECT_COLOUR, "-") if correct else (FALSE_COLOUR, ":")
        for ax in axes[1:]:
            ax.axvline(trigger.time_s, color=colour, linestyle=style, linewidth=1.4)
        axes[-1].plot([trigger.time_s], [trigger.score], "o", color=colour, markersize=5)
        text = f"p {trigger.score:.2f}" + ("" if peak is None else f", peak {peak:.2f}")
        axes[-1].annotate(
            text,
            (trigger.time_s, trigger.score),
            xytext=(6, -3),
            textcoords="offset points",
            fontsize=8,
            color=colour,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    axes[0].set_title('spectrogram (the model\'s input); shaded: where the words are ("activate" green)')
    axes[1].set_title('labels: 1 for the 50 steps after each "activate" ends')
    axes[2].set_title(
        "model output; lines: firings (chimes in chimed.wav); p: when it fired, peak: of that run"
    )
    handles = [
        Patch(color=ACTIVATE_COLOUR, alpha=0.3, label='"activate"'),
        Patch(color=OTHER_WORD_COLOUR, alpha=0.3, label="other word"),
        Line2D([], [], color=CORRECT_COLOUR, label="fires: detects an activate"),
        Line2D([], [], color=FALSE_COLOUR, linestyle=":", label="fires: false alarm"),
    ]
    axes[-1].legend(
        handles=handles + axes[-1].get_legend_handles_labels()[0][-1:],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.28),
        fontsize=8,
        ncol=5,
        frameon=False,
    )
    return axes[0].figure


def peak_probabilities(probs, triggers, threshold: float) -> list[float]:
    """For each trigger, the highest probability of the run above ``threshold`` in which it fired."""
    from twd_lab.detectors.lab_network import step_times_s

    p = np.asarray(probs, np.float64).reshape(-1)
    times = step_times_s(np.arange(p.size))
    peaks = []
    for trigger in triggers:
        start = int(np.argmin(np.abs(times - trigger.time_s)))  # the step it fired at
        stop = start
        while stop < p.size and p[stop] > threshold:
            stop += 1
        peaks.append(float(p[start : max(stop, start + 1)].max()))
    return peaks


def run_demo(
    out: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    model=None,
    base: str | os.PathLike = ".",
    threshold: float = THRESHOLD,
    patience: int = PATIENCE,
    refractory: int = REFRACTORY,
) -> DemoResult:
    """Synthesize, detect, chime and draw one example; write the files into a new folder (see the module).

    ``out``: the folder (default: a new ``twd-lab-demo[-N]`` in ``base``). ``seed``: which example.
    ``model``: a Keras model or ``.keras`` path (default: the shipped model).
    """
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio, write_wav
    from twd_lab.detection import chime_at, detect_triggerword, triggers
    from twd_lab.detectors.lab_network import load_keras_model
    from twd_lab.rng import as_generator

    keras_model = load_keras_model(model)  # fails before anything is written if there is no model
    rng = as_generator(seed, name="seed")
    activates, negatives, backgrounds = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    from twd_lab.synthesis import synthesize_example

    background = backgrounds[int(rng.integers(len(backgrounds)))]
    # clipping=False: example.wav is for listening, so the mix is lowered rather than clipped at its peaks
    ex = synthesize_example(
        background, activates, negatives, rng=rng, n_activates=2, n_negatives=2, clipping=False
    )
    probs = detect_triggerword(ex.audio, keras_model)
    fired = triggers(probs, threshold, patience, refractory)
    activates_ms, negatives_ms = sorted(ex.activate_segments), sorted(ex.negative_segments)
    matches = match_firings([end / 1000 for _, end in activates_ms], [t.time_s for t in fired])
    peaks = peak_probabilities(probs, fired, threshold)

    folder = new_folder(out, base=base)
    files = {key: folder / name for key, name in FILES.items()}
    write_wav(files["example"], ex.audio, SAMPLE_RATE)
    write_wav(files["chimed"], chime_at(ex.audio, fired), SAMPLE_RATE)
    draw(
        ex.audio,
        ex.y,
        probs,
        fired,
        threshold,
        activates_ms=activates_ms,
        negatives_ms=negatives_ms,
        matches=matches,
        peaks=peaks,
    ).savefig(files["figure"], dpi=110)
    summary = {
        "seed": seed if isinstance(seed, int) else None,
        "voices": "bundled held-out",
        "activates_ms": [list(s) for s in activates_ms],
        "negatives_ms": [list(s) for s in negatives_ms],
        "threshold": threshold,
        "patience": patience,
        "refractory": refractory,
        "triggers": [
            {**t._asdict(), "peak": round(peak, 4), "activate": word}
            for t, word, peak in zip(fired, matches, peaks)
        ],
        "max_probability": round(float(np.max(probs)), 4) if probs.size else None,
        "meaning": SUMMARY_MEANING,
    }
    with open(files["summary"], "x", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return DemoResult(
        folder, files, activates_ms, negatives_ms, fired, threshold, matches=matches, peaks=peaks
    )
