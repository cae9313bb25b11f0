#!/usr/bin/env python
"""Make the student versions of the lessons: the solution code between the markers becomes stubs.

    python tools/make_student_notebooks.py                   # notebooks/*.ipynb -> notebooks/student/
    python tools/make_student_notebooks.py --out somewhere/ notebooks/1_audio_and_synthesis.ipynb

In a solution notebook, the learner's part of a code cell sits between two marker lines::

    ### START CODE HERE ###
    segment_start = int(rng.integers(0, CLIP_MS - segment_ms))
    segment_end = segment_start + segment_ms - 1
    ### END CODE HERE ###

In the student notebook the markers stay and what is between them is replaced, at the same indentation,
by ``# YOUR CODE HERE`` and one ``name = None`` stub per variable the solution assigned at that level
(so the code after the block still runs, and the grader reports what is missing instead of a
``NameError``), or ``pass`` when it assigned none. A marker line may carry a hint for the learner,
kept as it is: ``### START CODE HERE ### (about 2 lines)``.

Outputs and execution counts are cleared, cells tagged ``solution-only`` (notes about the solution
notebook itself) are left out, and a note at the top tells the learner what to do. The student
notebooks are not tested with nbval (their exercises are unsolved on purpose); the tests check that
each one is valid Python with the stubs in place, and ``tests/test_nbgrader.py`` runs each one to the
end unfilled. Cells keep their ``nbgrader`` metadata, so that ``tools/make_nbgrader_course.py`` (the
same stubs, through nbgrader) and these copies are the same notebooks.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

START = "### START CODE HERE ###"
END = "### END CODE HERE ###"
STUB_COMMENT = "# YOUR CODE HERE"
SOLUTION_ONLY_TAG = "solution-only"
BANNER = (
    "**Your copy of this lesson.** Write your code between `{start}` and `{end}` in each exercise; the cell "
    "under it checks your code and says what is missing or wrong. Until you do, the exercises hold `None` "
    "stubs and the rest of the notebook still runs to the end. *(Made from `{source}` by "
    "`tools/make_student_notebooks.py`.)*"
)
ROOT = Path(__file__).resolve().parent.parent


class MarkerError(ValueError):
    """Unbalanced or nested START/END markers in a cell."""


def _assigned_names(lines: list[str], indent: str) -> list[str]:
    """Names assigned by the statements of ``lines`` that sit at ``indent`` (not nested deeper)."""
    names: list[str] = []
    for line in lines:
        if not line.startswith(indent) or line[len(indent) : len(indent) + 1].isspace():
            continue
        stmt = line[len(indent) :]
        try:
            tree = ast.parse(stmt)
        except SyntaxError:  # the first line of a multi-line statement, or a block header
            match = re.match(r"([A-Za-z_][\w\s,()]*?)\s*=(?!=)", stmt)
            if not match:
                continue
            tree = ast.parse(match.group(1).strip() + " = None")
        for node in tree.body:
            # Only plain names are (re)bound here; `x[i] = ...`, `obj.a = ...` and `x += ...` need x already.
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else ([node.target] if isinstance(node, ast.AnnAssign) else [])
            )
            for target in targets:
                elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                for element in elements:
                    if isinstance(element, ast.Name) and element.id not in names:
                        names.append(element.id)
    return names


def _stub(block: list[str], indent: str) -> list[str]:
    names = _assigned_names(block, indent)
    stub = [f"{indent}{STUB_COMMENT}"]
    stub += [f"{indent}{name} = None" for name in names] or [f"{indent}pass"]
    return stub


def stub_source(source: str) -> tuple[str, int]:
    """Replace every marked block of ``source``; return the new source and the number of blocks."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    count = 0
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith(START):
            if block is not None:
                raise MarkerError(f"line {number}: START CODE HERE inside another marked block")
            block, indent = [], line[: len(line) - len(line.lstrip())]
            out.append(line)
        elif stripped.startswith(END):
            if block is None:
                raise MarkerError(f"line {number}: END CODE HERE without a START")
            out.extend(_stub(block, indent))
            out.append(line)
            block = None
            count += 1
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise MarkerError("a START CODE HERE marker has no END")
    return "\n".join(out), count


def student_notebook(nb: nbformat.NotebookNode, source_name: str) -> tuple[nbformat.NotebookNode, int]:
    """A student copy of ``nb`` (a new object): stubs in marked blocks, no outputs. Returns it and the count."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if SOLUTION_ONLY_TAG not in c.metadata.get("tags", [])]
    total = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            cell.source, n = stub_source(cell.source)
        except MarkerError as err:
            raise MarkerError(f"{source_name}, code cell {index}: {err}") from None
        total += n
        cell.outputs = []
        cell.execution_count = None
        tags = [t for t in cell.metadata.get("tags", []) if not t.startswith("nbval")]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cell.metadata.pop("nbval_reason", None)
    nb.metadata.pop("widgets", None)
    note = nbformat.v4.new_markdown_cell(BANNER.format(start=START, end=END, source=source_name))
    note.id = "student-version-note"  # a fixed id: regenerating changes nothing that did not change
    nb.cells.insert(0, note)
    return nb, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "notebooks" / "student",
        help="folder for the student notebooks (default notebooks/student)",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        student, count = student_notebook(nb, path.name)
        target = args.out / path.name
        nbformat.write(student, target)
        print(f"{target}: {count} exercise block(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
