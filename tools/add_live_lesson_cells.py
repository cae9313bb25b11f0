"""Insert the live-microphone cells into lessons 1 and 4 (idempotent: run it again and nothing changes).

Lesson 4 opens with the LiveDetector (say it, see it, hear the chime; then tune the threshold while talking
normally and watch the false accepts); lesson 1 lets a student record their own "activate" and see its
spectrogram next to a synthesized one. Cells are found again by their ids, and placed by heading text:

    python tools/add_live_lesson_cells.py [--check] [NOTEBOOK_DIR]

``--check`` changes nothing and exits 1 if a notebook lacks the cells (or has them out of date). The code
cells' outputs depend on the browser and the microphone, so they carry ``nbval-ignore-output`` with an
``nbval_reason``; nothing is executed here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REASON = "a live widget: what it shows depends on the browser, its microphone and what was said"

LESSON_4 = [
    (
        "markdown",
        "twd-live-l4-intro",
        """\
## 0. Say it: the live detector

Before any theory: press **Start**, allow the microphone, and say “activate” into the laptop. The scrolling
picture is what the microphone hears (a spectrogram, 0–8 kHz); the line under it is the detector's
probability. When the probability stays above the **threshold** for **patience** steps, the widget flashes,
plays the chime, and then keeps quiet for **refractory** steps. The latency shown runs from the audio being
heard to the flash being drawn.

Then talk normally (read this paragraph aloud) and watch for **false accepts**: firings without the word.
Lower the threshold until they appear; raise it until they stop. The rest of this lesson explains what those
three numbers do. The audio goes from your browser to this notebook's kernel and nowhere else; **Keep this
take** saves it (as `my_takes/take_001.wav`, ... and as arrays in `live.takes`). For a classroom,
`twd-lab classroom` shows this widget full-screen.""",
    ),
    (
        "code",
        "twd-live-l4-widget",
        """\
from twd_lab.widgets import LiveDetector

live = LiveDetector()  # the speech-embedding detector where it can run, else the lab network
live""",
    ),
    (
        "code",
        "twd-live-l4-triggers",
        """\
live.triggers  # every firing since Start: when (seconds) and how sure (the probability)""",
    ),
]

LESSON_1 = [
    (
        "markdown",
        "twd-live-l1-intro",
        """\
### Your own “activate”

Record yourself: press **Start**, allow the microphone, say “activate” once, press **Stop**, then **Keep
this take**. The take is saved as `my_takes/take_001.wav` (the next free number; nothing is overwritten) and
kept in `mic.takes` as a 44.1 kHz array. Five takes are what `twd-lab personalize` needs in lesson 4.""",
    ),
    (
        "code",
        "twd-live-l1-widget",
        """\
from twd_lab.widgets import LiveDetector

mic = LiveDetector(takes_dir="my_takes")
mic""",
    ),
    (
        "code",
        "twd-live-l1-compare",
        """\
# your last take next to a synthesized "activate", on the same kind of axes
if mic.takes:
    display(AudioPlayer(mic.takes[-1], title="your activate"))
    display(AudioPlayer(activates[0], title="a synthesized activate"))
else:
    print("No take kept yet: Start, say “activate”, Stop, Keep this take, then run this cell again.")""",
    ),
]

# (notebook, heading pattern, "after" that heading's cell or "before" it, cells)
PLAN = [
    ("1_audio_and_synthesis.ipynb", r"^## 2\. .*spectrogram", "before", LESSON_1),
    # after the set-up cells (Colab's install, the TensorFlow settings), before the first section
    ("4_detection_and_your_recordings.ipynb", r"^## 1\. ", "before", LESSON_4),
]


def make_cell(kind: str, cell_id: str, source: str) -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell["metadata"] = {"nbval_reason": REASON, "tags": ["nbval-ignore-output"]}
        cell.update(execution_count=None, outputs=[])
    return cell


def heading_index(cells: list[dict], pattern: str, name: str) -> int:
    rx = re.compile(pattern, re.MULTILINE)
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and rx.search("".join(cell["source"])):
            return i
    raise SystemExit(
        f"{name}: no markdown cell with a heading matching {pattern!r}; where should the cells go?"
    )


def with_live_cells(nb: dict, pattern: str, where: str, cells: list, name: str) -> dict:
    """``nb`` with ``cells`` (old copies of them removed first) placed by the heading."""
    ids = {cell_id for _, cell_id, _ in cells}
    old = {c.get("id"): c for c in nb["cells"] if c.get("id") in ids}
    kept = [c for c in nb["cells"] if c.get("id") not in ids]
    at = heading_index(kept, pattern, name) + (1 if where == "after" else 0)
    new = [make_cell(*c) for c in cells]
    for cell in new:  # what tools/execute_lessons.py stored for a cell is not a change to the cell
        if cell["cell_type"] == "code" and cell["id"] in old:
            cell.update(
                execution_count=old[cell["id"]].get("execution_count"),
                outputs=old[cell["id"]].get("outputs", []),
            )
    return {**nb, "cells": kept[:at] + new + kept[at:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(ROOT / "notebooks"), help="the lessons' folder")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a lesson needs them")
    args = parser.parse_args(argv)
    stale = []
    for name, pattern, where, cells in PLAN:
        path = Path(args.folder) / name
        nb = json.loads(path.read_text(encoding="utf-8"))
        if nb.get("nbformat", 4) < 4 or (nb.get("nbformat") == 4 and nb.get("nbformat_minor", 0) < 5):
            nb["nbformat_minor"] = 5  # cell ids need nbformat 4.5
        new = with_live_cells(nb, pattern, where, cells, name)
        if new == nb:
            print(f"{path}: up to date")
            continue
        stale.append(path)
        if not args.check:
            path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"{path}: live cells inserted")
    if args.check and stale:
        print("lacking the live cells: " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
