#!/usr/bin/env python
"""Export the lessons as self-contained HTML handouts: one file each, readable offline.

    python tools/export_handouts.py                      # notebooks/[0-9]*.ipynb -> handouts/
    python tools/export_handouts.py --out /tmp/handouts notebooks/1_audio_and_synthesis.ipynb

Each lesson is run once more (in a fresh kernel, about 5-20 s) with
``twd_lab.widgets.embed_audio_in_static_copies()`` on, so that every clip the lesson plays is in the
handout as an ``<audio>`` player (16 kHz WAV inside the page); ``--stored`` exports the stored outputs
instead, without running anything and without audio. As when lessons are stored, what cells tagged
``real-speech`` showed is left out. Every picture is embedded (``data:`` URIs), the style sheet is inlined,
and nothing is loaded from the network: no MathJax, no require.js, no widget scripts. The widgets appear
as the static copies they offer; the notebooks' test tags are not shown. An ``index.html`` lists the
handouts.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
from execute_lessons import WIDGET_VIEW, freeze  # a sibling script, found through TOOLS

#: The cell run before a lesson for its handout (and removed from the handout).
SETUP = "from twd_lab.widgets import embed_audio_in_static_copies\n\nembed_audio_in_static_copies()"
#: What a handout must not load from elsewhere (checked after export).
REMOTE = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _prepare(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without live-widget views and widget state (their scripts would come from a CDN)."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def run_for_handout(nb: nbformat.NotebookNode, path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """A copy of ``nb`` run top to bottom in a fresh kernel, with the widgets' audio embedded; frozen as
    ``tools/execute_lessons.py`` freezes a lesson (no live widgets, nothing from the real recordings)."""
    from nbclient import NotebookClient

    nb = nbformat.from_dict(nb)
    setup = nbformat.v4.new_code_cell(SETUP)
    setup.id = "handout-setup"
    nb.cells.insert(0, setup)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nb.cells.pop(0)
    return freeze(nb)


def exporter() -> HTMLExporter:
    # The lessons use no LaTeX, no Mermaid diagrams and (frozen) no live widgets: every script the
    # template would fetch from a CDN is left out (an empty URL, whose tag export() then removes).
    return HTMLExporter(
        template_name="lab",
        embed_images=True,
        mathjax_url="",
        require_js_url="",
        mermaid_js_url="",
        mermaid_layout_elk_js_url="",
    )


def export(path: Path, out_dir: Path, exp: HTMLExporter | None = None, *, run: bool = True) -> Path:
    """Export one notebook to ``out_dir/<name>.html``; return the path written.

    ``run``: run it first with the widgets' audio embedded (else: its stored outputs, no audio)."""
    exp = exp or exporter()
    nb = nbformat.read(path, as_version=4)
    nb = _prepare(run_for_handout(nb, path) if run else nb)
    title = _title(nb, path.stem)
    body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": title, "path": str(path.parent)}})
    # The template still writes <script src=""> tags for the empty URLs, and a module that would import
    # Mermaid if the page had diagrams: drop them.
    body = re.sub(r"<script[^>]*src=\"\"[^>]*>\s*</script>", "", body)
    body = re.sub(
        r"<script type=\"module\">(?:(?!</script>).)*mermaid(?:(?!</script>).)*</script>",
        "",
        body,
        flags=re.DOTALL,
    )
    remote = REMOTE.findall(body)
    if remote:
        raise RuntimeError(
            f"{path.name}: the handout would load {len(remote)} resource(s) from the network: {remote[:3]}"
        )
    target = out_dir / f"{path.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target


def write_index(out_dir: Path, entries: list[tuple[str, Path]]) -> Path:
    items = "\n".join(f'  <li><a href="{html.escape(p.name)}">{html.escape(t)}</a></li>' for t, p in entries)
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>twd-lab lessons</title></head>\n'
        f"<body><h1>twd-lab lessons</h1>\n<ol>\n{items}\n</ol></body></html>\n"
    )
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument(
        "--out", type=Path, default=Path("handouts"), help="output folder (default ./handouts)"
    )
    parser.add_argument(
        "--stored",
        action="store_true",
        help="export the stored outputs without running the lessons (no audio)",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    exp = exporter()
    entries = []
    for path in paths:
        target = export(path, args.out, exp, run=not args.stored)
        entries.append((_title(nbformat.read(path, as_version=4), path.stem), target))
        print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)")
    print(write_index(args.out, entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
