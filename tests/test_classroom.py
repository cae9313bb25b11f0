"""Classroom mode without a browser: the notebook it writes and the command that serves it."""

from __future__ import annotations

import json
import warnings

import pytest

from twd_lab.classroom import NOTEBOOK_NAME, classroom_notebook, voila_command


def test_the_classroom_notebook_is_one_autostarting_live_detector(tmp_path):
    path = classroom_notebook(tmp_path / "new", detector="embedding", takes_dir="takes", threshold=0.8)
    nb = json.loads(path.read_text())
    code = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert path.name == NOTEBOOK_NAME and len(code) == 1
    assert "LiveDetector('embedding', autostart=True, takes_dir='takes', threshold=0.8)" in code[0]
    compile(code[0], "cell", "exec")
    assert classroom_notebook(tmp_path / "new") == path  # its own notebook may be written again


def test_the_classroom_notebook_is_valid_nbformat_without_warnings(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the notebooks extra")
    path = classroom_notebook(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nbformat warns (MissingIDFieldWarning) when a cell has no id
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    assert path.read_bytes() == classroom_notebook(tmp_path).read_bytes()  # the same file every time


def test_the_classroom_never_replaces_a_notebook_of_the_user(tmp_path):
    (tmp_path / NOTEBOOK_NAME).write_text('{"cells": []}')
    with pytest.raises(FileExistsError, match="not a twd-lab classroom notebook"):
        classroom_notebook(tmp_path)
    assert (tmp_path / NOTEBOOK_NAME).read_text() == '{"cells": []}'


def test_the_classroom_is_served_on_localhost_only(tmp_path):
    cmd = voila_command(tmp_path / NOTEBOOK_NAME, port=9000, open_browser=False)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=9000" in cmd and "--no-browser" in cmd
    with pytest.raises(ValueError, match="port"):
        voila_command(tmp_path / NOTEBOOK_NAME, port=70000)
    with pytest.raises(ValueError, match="detector must be one of"):
        classroom_notebook(tmp_path, detector="whisper")


@pytest.mark.parametrize("absent", ["voila", "ipykernel", "anywidget"])
def test_classroom_without_its_packages_names_them_and_the_extra(capsys, tmp_path, monkeypatch, absent):
    import importlib.util
    import subprocess

    from conftest import run_cli

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == absent else find_spec(name, *a)
    )
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("Voilà was started"))
    code, out, err = run_cli(capsys, "classroom", "--folder", str(tmp_path / "c"), "--no-browser")
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert {"voila": "Voilà"}.get(absent, absent) in line
    assert 'pip install "twd-lab[classroom]"' in line and 'pip install -e ".[classroom]"' in line
    assert not (tmp_path / "c").exists()
