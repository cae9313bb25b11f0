#!/usr/bin/env python
"""Run the lesson notebooks top to bottom and store them with their outputs (what nbval compares).

    python tools/execute_lessons.py                      # every notebooks/[0-9]*.ipynb
    python tools/execute_lessons.py notebooks/2_*.ipynb  # some of them

Each notebook runs in its own folder with a fresh ``python3`` kernel; the time it took is printed.
Outputs are then *frozen* for storage:

* the live-widget part of each output (``application/vnd.jupyter.widget-view+json``) is dropped, and
  the notebook's widget state is not saved: the widgets' audio and pictures would make every notebook
  several MB, and a widget view without its state only shows "model not found". Every lesson widget
  also offers a static picture (``image/png``) or HTML copy of itself, which is what a stored notebook,
  an exported handout or GitHub shows; running the cell brings the live widget back;
* cells tagged ``real-speech`` read ``../shared/real_speech`` (recordings the project must never ship):
  their outputs are replaced by a note, so no picture or sound of them ends up in the repository;
* per-cell execution timestamps are not recorded, so re-running changes only what really changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
REAL_SPEECH_TAG = "real-speech"
NOT_STORED = (
    "(output not stored: this cell shows ../shared/real_speech, recordings the project does not "
    "ship; run it where they exist to see it)\n"
)
ROOT = Path(__file__).resolve().parent.parent


def freeze(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop live-widget views, widget state and real-speech outputs from an executed notebook (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if REAL_SPEECH_TAG in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_STORED)]
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
    return nb


def execute(path: Path, timeout: int = 600, kernel_name: str = "python3") -> float:
    """Execute ``path`` in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    nbformat.write(freeze(nb), path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    for path in paths:
        seconds = execute(path, args.timeout, args.kernel)
        print(f"{path.name}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
