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

DEFAULT_DIR = "twd-lab-demo"
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
            found = ", ".join(f"{t.time_s:.2f} s (p={t.score:.2f})" for t in self.triggers)
            lines.append(
                f"The detector fired {len(self.triggers)} time(s) at threshold {self.threshold:g}: {found}"
            )
        else:
            lines.append(f"The detector did not fire at threshold {self.threshold:g}.")
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
    """How to open the notebooks: from the repository when it is there, else where to get them."""
    repo_notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    if repo_notebooks.is_dir():
        return f"jupyter lab {repo_notebooks}"
    return "jupyter lab notebooks/   (in a clone of the twd-lab repository)"


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


def draw(audio, y, probs, triggers, threshold: float = THRESHOLD):
    """The demo's picture as a ``matplotlib.figure.Figure``: spectrogram, labels, probabilities and firings."""
    from twd_lab.detection import plot_detection

    axes = plot_detection(audio, probs, y=y, threshold=threshold)
    for ax in axes[1:]:
        for t in triggers:
            ax.axvline(t.time_s, color="tab:green", linewidth=1.2, alpha=0.8)
    axes[0].set_title("spectrogram (the model's input)")
    axes[1].set_title('labels: 1 for the 50 steps after each "activate" ends')
    axes[2].set_title("model output; green lines: where the detector fires (a chime in chimed.wav)")
    return axes[0].figure


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
    ex = synthesize_example(background, activates, negatives, rng=rng, n_activates=2, n_negatives=2)
    probs = detect_triggerword(ex.audio, keras_model)
    fired = triggers(probs, threshold, patience, refractory)

    folder = new_folder(out, base=base)
    files = {key: folder / name for key, name in FILES.items()}
    write_wav(files["example"], ex.audio, SAMPLE_RATE)
    write_wav(files["chimed"], chime_at(ex.audio, fired), SAMPLE_RATE)
    draw(ex.audio, ex.y, probs, fired, threshold).savefig(files["figure"], dpi=110)
    summary = {
        "seed": seed if isinstance(seed, int) else None,
        "voices": "bundled held-out",
        "activates_ms": [list(s) for s in sorted(ex.activate_segments)],
        "negatives_ms": [list(s) for s in sorted(ex.negative_segments)],
        "threshold": threshold,
        "patience": patience,
        "refractory": refractory,
        "triggers": [t._asdict() for t in fired],
        "max_probability": round(float(np.max(probs)), 4) if probs.size else None,
    }
    with open(files["summary"], "x", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return DemoResult(
        folder, files, sorted(ex.activate_segments), sorted(ex.negative_segments), fired, threshold
    )
