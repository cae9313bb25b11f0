"""tools/tool_command.py: the command line a tool's notes record."""

from __future__ import annotations

import sys

from conftest import ROOT, load_tool

tool_command = load_tool("tool_command")


def test_the_line_names_the_tool_by_its_file_and_keeps_the_arguments_in_order():
    line = tool_command.command_line(
        str(ROOT / "tools" / "train_model.py"), ["--epochs", "3", "--out", "runs/a b"]
    )
    assert line == "python tools/train_model.py --epochs 3 --out runs/a b"
    assert tool_command.command_line("/elsewhere/tools/x.py", []) == "python tools/x.py"


def test_without_argv_it_is_the_shell_command(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tools/x.py", "--seed", "1"])
    assert tool_command.command_line("tools/x.py") == "python tools/x.py --seed 1"
    assert tool_command.command_line("tools/x.py", ["--seed", "2"]) == "python tools/x.py --seed 2"
