#!/usr/bin/env python
"""Make an nbgrader course of the lessons: one assignment per lesson, graded by ``twd_lab.checks``.

    python tools/make_nbgrader_course.py --out course      # then, inside course/:
    nbgrader generate_assignment lesson1                   # release/lesson1/: the student copy
    nbgrader autograde lesson1                             # grades submitted/<student>/lesson1/

The lessons carry nbgrader's cell metadata already: each exercise is a *solution* cell (``grade_id``: the
function's name) whose ``### START CODE HERE ###`` ... ``### END CODE HERE ###`` blocks are its solution
regions, and the check under it is a graded, locked *test* cell (``grade_id``: the check's name, 1 point).
This tool copies each lesson into ``course/source/lessonN/`` (leaving out cells tagged ``solution-only``)
and gives every test cell a hidden assertion::

    checks.check_insert_ones(insert_ones)
    ### BEGIN HIDDEN TESTS
    assert checks.check_insert_ones(insert_ones, verbose=False), "check_insert_ones: see the report above"
    ### END HIDDEN TESTS

A check prints its report and never raises, so that a student's notebook runs to the end; nbgrader takes
the hidden part out of the student copy and puts it back when it autogrades, where a failed check then
costs the cell's points.

``course/nbgrader_config.py`` tells nbgrader to stub the solution regions as
``tools/make_student_notebooks.py`` does (the markers stay; ``name = None`` for every name the solution
assigned), so the student copies nbgrader releases are the code of ``notebooks/student/``
(``tests/test_nbgrader.py`` checks that, and autogrades a filled and an empty copy of every lesson).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import make_student_notebooks as students  # a sibling script, found through TOOLS

HIDDEN = '### BEGIN HIDDEN TESTS\nassert {quiet}, "{name}: see the report above"\n### END HIDDEN TESTS'
CONFIG = '''"""nbgrader settings for the twd-lab lessons (written by tools/make_nbgrader_course.py)."""
import sys

sys.path.insert(0, {tools!r})  # the lab's stubs for solution regions: tools/make_nbgrader_course.py

from make_nbgrader_course import lab_preprocessors  # noqa: E402

c = get_config()  # noqa: F821 - nbgrader defines it
c.GenerateAssignment.preprocessors = lab_preprocessors()
c.Execute.timeout = 600  # seconds per cell; a lesson runs in well under a minute
'''


def assignment_name(path: Path) -> str:
    """``notebooks/3_training_and_evaluation.ipynb`` -> ``lesson3``."""
    match = re.match(r"(\d+)_", path.name)
    if not match:
        raise ValueError(
            f"{path.name}: a lesson's name starts with its number, e.g. 1_audio_and_synthesis.ipynb"
        )
    return f"lesson{int(match.group(1))}"


def with_hidden_assert(source: str, where: str) -> str:
    """A test cell's ``checks.check_x(...)`` call, followed by the hidden assertion on the same call."""
    call = source.strip()
    tree = ast.parse(call)
    node = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "checks"
        and node.func.attr.startswith("check_")
    ):
        raise ValueError(
            f"{where}: a graded test cell must be one call `checks.check_...(...)`, got {call[:60]!r}"
        )
    quiet = call[:-1].rstrip() + ", verbose=False)"
    return call + "\n" + HIDDEN.format(quiet=quiet, name=node.func.attr)


def source_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The nbgrader source version of a lesson (a new object)."""
    nb = nbformat.from_dict(nb)
    nb.cells = [c for c in nb.cells if students.SOLUTION_ONLY_TAG not in c.metadata.get("tags", [])]
    graded = 0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            cell.source = with_hidden_assert(cell.source, f"{name}, cell {index}")
            graded += 1
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if not graded:
        raise ValueError(f"{name}: no graded test cell (nbgrader metadata with grade: true)")
    return nb


def lab_preprocessors() -> list:
    """nbgrader's ``GenerateAssignment`` preprocessors, with the lab's stubs for solution regions."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import ClearSolutions

    class LabClearSolutions(ClearSolutions):
        """ClearSolutions whose solution regions are the lab's START/END CODE HERE blocks, stubbed as
        ``tools/make_student_notebooks.py`` stubs them (nbgrader's own stub raises NotImplementedError,
        which would stop a student's notebook at the first unfinished exercise)."""

        def _replace_solution_region(self, cell, language):
            if cell.cell_type != "code":
                return super()._replace_solution_region(cell, language)
            cell.source, count = students.stub_source(cell.source)
            return count > 0

    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    return [LabClearSolutions if p is ClearSolutions else p for p in defaults]


def make_course(out: Path, lessons: list[Path], *, overwrite: bool = False) -> list[str]:
    """Write ``out/nbgrader_config.py`` and ``out/source/lessonN/<lesson>.ipynb``; return the assignments.

    Files that exist are an error (a teacher may have edited them) unless ``overwrite``.
    """
    targets = {out / "nbgrader_config.py": None}
    for path in lessons:
        targets[out / "source" / assignment_name(path) / path.name] = path
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} exists (and {len(existing) - 1} more); pass --overwrite to replace"
        )
    notebooks = {t: source_notebook(nbformat.read(p, as_version=4), p.name) for t, p in targets.items() if p}
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG.format(tools=str(TOOLS)), encoding="utf-8")
    for target, nb in notebooks.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return [t.parent.name for t in notebooks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9]*.ipynb")
    parser.add_argument(
        "--out", type=Path, default=Path("course"), help="the course folder (default ./course)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the config and source notebooks")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    try:
        names = make_course(args.out, paths, overwrite=args.overwrite)
    except (ValueError, SyntaxError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"{args.out}: assignments {', '.join(names)}; next, in {args.out}: nbgrader generate_assignment {names[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
