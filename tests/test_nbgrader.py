"""The lessons as an nbgrader course: generate_assignment makes the student copies, autograde grades them.

One course is built for the whole module (``tools/make_nbgrader_course.py``); nbgrader then releases every
lesson and autogrades two submissions of each: the lesson itself (every exercise filled in) and the
Coursera-style student copy from ``notebooks/student/`` (nothing filled in). Autograding the empty copies
also runs every student notebook top to bottom, which is how this file checks that they run to the end
unfilled, with each check saying what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import load_tool

pytest.importorskip("nbgrader", reason="the nbgrader tests need nbgrader (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
STUDENT = ROOT / "notebooks" / "student"


course_tool = load_tool("make_nbgrader_course")


def nbgrader(course: Path, *args: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    names = course_tool.make_course(course, LESSONS)
    assert names == ["lesson1", "lesson2", "lesson3", "lesson4"]
    nbgrader(course, "generate_assignment", "*")  # every assignment in one call (each call starts nbgrader)
    for name, lesson in zip(names, LESSONS):
        for student, copy in (("filled", lesson), ("empty", STUDENT / lesson.name)):
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            shutil.copy(copy, folder / lesson.name)
    nbgrader(course, "autograde", "*")
    return course


def graded_cells(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_exercise_is_a_solution_cell_followed_by_a_graded_check(lesson):
    nb = nbformat.read(lesson, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "### START CODE HERE ###" in cell.source:
            meta = cell.metadata["nbgrader"]
            assert meta["solution"] and not meta["grade"] and meta["grade_id"]
            test = nb.cells[i + 1].metadata["nbgrader"]
            assert test["grade"] and test["locked"] and test["points"] > 0
            assert nb.cells[i + 1].source.startswith("checks.check_") and test["grade_id"].startswith(
                "check_"
            )


def test_a_test_cell_that_is_not_a_check_call_is_refused():
    with pytest.raises(ValueError, match="one call `checks.check_"):
        course_tool.with_hidden_assert("assert f(1) == 2", "lesson9, cell 3")
    hidden = course_tool.with_hidden_assert("checks.check_model(modelf)\n", "lesson2, cell 9")
    assert hidden.splitlines() == [
        "checks.check_model(modelf)",
        "### BEGIN HIDDEN TESTS",
        'assert checks.check_model(modelf, verbose=False), "check_model: see the report above"',
        "### END HIDDEN TESTS",
    ]


def test_make_course_does_not_overwrite_a_teachers_files(tmp_path):
    course_tool.make_course(tmp_path, LESSONS[:1])
    with pytest.raises(FileExistsError, match="--overwrite"):
        course_tool.make_course(tmp_path, LESSONS[:1])
    course_tool.make_course(tmp_path, LESSONS[:1], overwrite=True)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_generate_assignment_releases_the_student_copy(course, lesson):
    released = nbformat.read(
        course / "release" / course_tool.assignment_name(lesson) / lesson.name, as_version=4
    )
    student = nbformat.read(STUDENT / lesson.name, as_version=4)
    # the same cells, less the banner that make_student_notebooks puts on top
    assert [c.source for c in released.cells] == [c.source for c in student.cells[1:]]
    assert "HIDDEN TESTS" not in "".join(c.source for c in released.cells)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_autograde_gives_full_marks_to_the_filled_copy_and_none_to_the_empty_one(course, lesson):
    from nbgrader.api import Gradebook

    name = course_tool.assignment_name(lesson)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        filled = gradebook.find_submission(name, "filled")
        empty = gradebook.find_submission(name, "empty")
        assert filled.max_score == len(graded_cells(nbformat.read(lesson, as_version=4))) > 0
        assert filled.score == filled.max_score
        assert empty.score == 0


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_the_unfilled_student_copy_runs_to_the_end_and_its_checks_say_what_is_missing(course, lesson):
    nb = nbformat.read(
        course / "autograded" / "empty" / course_tool.assignment_name(lesson) / lesson.name, as_version=4
    )
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "autograde ran every cell"
    for cell in code:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if cell in graded_cells(nb):
            # only the hidden assertion fails; the check itself ran and printed what is wrong
            assert [e.ename for e in errors] == ["AssertionError"], cell.source[:80]
            report = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "cases failed" in report and "  - case " in report, report
        else:
            assert not errors, f"{cell.source[:80]!r} raised {[e.ename + ': ' + e.evalue for e in errors]}"
