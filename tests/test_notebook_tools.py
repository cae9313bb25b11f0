"""The lesson notebooks as files, and the tools that make student versions, freeze outputs and export handouts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from conftest import load_tool

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
NOTEBOOKS_README = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")


students = load_tool("make_student_notebooks")


@pytest.fixture(scope="module")
def handouts():
    pytest.importorskip("nbconvert", reason="exporting handouts needs nbconvert")
    return load_tool("export_handouts")


class _Executor:
    """tools/execute_lessons.py, loaded on first use (it needs nbclient, which the tests may lack)."""

    def __getattr__(self, name):
        pytest.importorskip("nbclient", reason="tools/execute_lessons.py needs nbclient")
        return getattr(load_tool("execute_lessons"), name)


executor = _Executor()


# --- the lessons as stored ----------------------------------------------------------------------


def test_there_are_four_lessons():
    assert [p.name for p in LESSONS] == [
        "1_audio_and_synthesis.ipynb",
        "2_model_three_ways.ipynb",
        "3_training_and_evaluation.ipynb",
        "4_detection_and_your_recordings.ipynb",
    ]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lessons_are_stored_executed_and_frozen(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "run tools/execute_lessons.py"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "stored outputs must come from one top-to-bottom run"
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert "widgets" not in nb.metadata
    assert not any(executor.WIDGET_VIEW in o.get("data", {}) for c in code for o in c.outputs)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_cell_excused_from_nbval_says_why(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if any(t.startswith("nbval-") for t in tags):
            assert len(cell.metadata.get("nbval_reason", "")) > 20, cell.source[:80]
            assert cell.metadata["nbval_reason"].split(";")[0][:40] in NOTEBOOKS_README, (
                "list it in notebooks/README.md, 'Stored outputs, and how they are tested'"
            )
        assert "nbval-skip" not in tags, "lessons run every cell"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_student_notebooks_are_up_to_date(path):
    student, _ = students.student_notebook(nbformat.read(path, as_version=4), path.name)
    stored = nbformat.read(NOTEBOOKS / "student" / path.name, as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in student.cells], (
        "run tools/make_student_notebooks.py"
    )


@pytest.mark.parametrize("path", sorted((NOTEBOOKS / "student").glob("*.ipynb")), ids=lambda p: p.stem)
def test_student_notebooks_are_valid_python_without_outputs_or_solutions(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None
        ast.parse(
            "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        )
        for block in re.findall(
            rf"{re.escape(students.START)}.*?\n(.*?){re.escape(students.END)}", cell.source, flags=re.DOTALL
        ):
            body = [line.strip() for line in block.splitlines() if line.strip()]
            assert body[0] == students.STUB_COMMENT
            assert all(line == "pass" or line.endswith("= None") for line in body[1:]), block


# --- make_student_notebooks ---------------------------------------------------------------------


def test_stub_source_keeps_markers_and_stubs_the_names_assigned_at_the_block_level():
    source = (
        "def f(x, rng=None):\n"
        "    ### START CODE HERE ### (3 lines)\n"
        "    a, b = x, 2 * x\n"
        "    c: int = a + b\n"
        "    for i in range(3):\n"
        "        d = i\n"
        "    arr[0] += 1\n"
        "    total = (a +\n"
        "             b)\n"
        "    ### END CODE HERE ###\n"
        "    return a, b, c, total\n"
    )
    out, n = students.stub_source(source)
    assert n == 1
    assert out.splitlines() == [
        "def f(x, rng=None):",
        "    ### START CODE HERE ### (3 lines)",
        "    # YOUR CODE HERE",
        "    a = None",
        "    b = None",
        "    c = None",
        "    total = None",
        "    ### END CODE HERE ###",
        "    return a, b, c, total",
    ]


def test_stub_source_uses_pass_when_the_block_assigns_nothing():
    out, n = students.stub_source(
        "for i in range(3):\n    ### START CODE HERE ###\n    y[0, i] = 1\n    ### END CODE HERE ###\n"
    )
    assert n == 1 and "    pass" in out.splitlines() and "y[0, i]" not in out
    ast.parse(out)


@pytest.mark.parametrize(
    "source, problem",
    [
        ("### START CODE HERE ###\nx = 1\n", "has no END"),
        ("x = 1\n### END CODE HERE ###\n", "without a START"),
        ("### START CODE HERE ###\n### START CODE HERE ###\n", "inside another"),
    ],
)
def test_stub_source_rejects_unbalanced_markers(source, problem):
    with pytest.raises(students.MarkerError, match=problem):
        students.stub_source(source)


def test_make_student_notebooks_writes_into_the_given_folder(tmp_path):
    assert students.main(["--out", str(tmp_path), str(LESSONS[0])]) == 0
    nb = nbformat.read(tmp_path / LESSONS[0].name, as_version=4)
    assert "Your copy of this lesson" in nb.cells[0].source
    assert not any("solution notebook" in c.source for c in nb.cells)  # the solution-only note is left out
    assert not any("nbval" in t for c in nb.cells for t in c.metadata.get("tags", []))


# --- execute_lessons.freeze ---------------------------------------------------------------------


def test_freeze_drops_live_widget_views_and_widget_state_but_keeps_the_static_copy():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("w")
    cell.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={
                executor.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
                "image/png": "iVBORw0KGgo=",
                "text/plain": "AudioPlayer(1.00 s, 0 detection(s))",
            },
            execution_count=1,
        )
    ]
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    nb.cells = [cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    executor.freeze(nb)
    assert set(nb.cells[0].outputs[0].data) == {"image/png", "text/plain"}
    assert "widgets" not in nb.metadata and "execution" not in nb.cells[0].metadata


# --- export_handouts ----------------------------------------------------------------------------


def test_export_handouts_writes_self_contained_html_and_an_index(tmp_path, handouts):
    assert handouts.main(["--out", str(tmp_path), str(LESSONS[0]), str(LESSONS[1])]) == 0
    page = (tmp_path / f"{LESSONS[0].stem}.html").read_text(encoding="utf-8")
    assert "<title>Lesson 1" in page
    assert "data:image/png;base64," in page  # the widgets' pictures and the plots are embedded
    assert not handouts.REMOTE.search(page)
    assert not re.search(r"(cdnjs|unpkg|jsdelivr)\.", page)
    assert "check_is_overlapping: all 8 cases passed." in page
    # every clip lesson 1 plays (three AudioPlayers and the SynthesisExplorer) is in the page
    assert len(re.findall(r'<audio [^>]*src="data:audio/wav;base64,', page)) == 4
    assert "embed_audio_in_static_copies" not in page  # the set-up cell is not part of the handout
    page2 = (tmp_path / f"{LESSONS[1].stem}.html").read_text(encoding="utf-8")
    assert "font-family:'DejaVu Sans Mono'" in page2 and "Param #" in page2  # the stepper's summary
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f'href="{LESSONS[1].stem}.html"' in index and "Lesson 2" in index


def test_export_handouts_from_the_stored_outputs_runs_nothing(tmp_path, handouts, monkeypatch):
    monkeypatch.setattr(handouts, "run_for_handout", lambda *a, **k: pytest.fail("ran the lesson"))
    assert handouts.main(["--stored", "--out", str(tmp_path), str(LESSONS[0])]) == 0
    page = (tmp_path / f"{LESSONS[0].stem}.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "<audio" not in page


def test_freeze_never_stores_what_a_real_speech_cell_showed():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show(real_recordings)", metadata={"tags": ["real-speech"]})
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nb.cells = [cell]
    executor.freeze(nb)
    assert [o.output_type for o in cell.outputs] == ["stream"] and "not stored" in cell.outputs[0].text


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lessons_store_nothing_from_the_real_recordings(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "real_speech" in cell.source:
            assert "real-speech" in cell.metadata.get("tags", []), cell.source[:80]
            assert [o.get("text", "") for o in cell.outputs] == [executor.NOT_STORED]
