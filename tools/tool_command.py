"""The command line a tool was run with, as its notes record it (``"command"`` in a head's or model's ``.json``)."""

from __future__ import annotations

import sys
from pathlib import Path


def command_line(tool_file: str, argv: list[str] | None = None) -> str:
    """``python tools/NAME.py ARGS``: the tool's file name and ``argv`` (``sys.argv[1:]`` when None, the
    arguments of a command run from the shell), so the line reruns what made the file."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"tools/{Path(tool_file).name}", *args])
