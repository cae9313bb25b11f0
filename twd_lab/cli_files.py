"""Files of a ``twd-lab detect`` run, checked before any work: where each chimed copy goes, and ``-``.

:func:`plan_chimes` refuses, up front, an output that is one of the run's inputs, two inputs chimed to one
name, an output in a missing folder or under a file, a name not ending in ``.wav``, and an existing file
without ``--overwrite``.
:func:`stdin_to_file` reads a FILE of ``-`` from standard input, as Unix tools do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from twd_lab.decoding import AUDIO_SUFFIXES
from twd_lab.validation import missing_reason

__all__ = [
    "AUDIO_SUFFIXES",
    "STDIN",
    "check_file",
    "check_folder",
    "chime_target",
    "is_same_path",
    "plan_chimes",
    "stdin_to_file",
]

STDIN = "-"  # a FILE of "-" is read from standard input, as Unix tools do


def chime_target(chime: str, file: str, folder: bool) -> Path:
    """Where one file's chimed copy goes: ``--chime`` itself, or ``<stem>_chimed.wav`` in a ``--chime`` folder."""
    if not folder:
        return Path(chime)
    return Path(chime) / f"{'stdin' if file == STDIN else Path(file).stem}_chimed.wav"


def is_same_path(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_folder(folder: Path, what: str) -> None:
    """``folder`` exists and is a folder, or an error that says which part is wrong."""
    if folder.is_dir():
        return
    if folder.exists():
        raise NotADirectoryError(f"{what}: {folder} is a file, not a folder")
    reason = missing_reason(folder)
    if "is a file" in reason:
        raise NotADirectoryError(f"{what}: {reason}")
    raise FileNotFoundError(
        f"{what}: {f'the folder {folder} does not exist' if reason == 'no such file' else reason}"
    )


def check_file(path: Path, what: str, kind: str) -> None:
    """``path`` is a file (a ``kind`` one, as the message says), or a one-line error naming ``what``."""
    if path.is_file():
        return
    if path.is_dir():
        raise IsADirectoryError(f"{what}: {path} is a folder, not a {kind} file")
    reason = missing_reason(path)
    raise FileNotFoundError(
        f"{what}: {path} " + ("does not exist" if reason == "no such file" else f"cannot be read: {reason}")
    )


def plan_chimes(chime: str | None, files: list[str], overwrite: bool) -> list[Path | None]:
    """Every ``--chime`` output of a ``detect`` run, checked before any work: one per FILE (or None).

    Refused: an output that is one of this run's inputs (even with ``--overwrite``), two inputs that
    would be chimed to the same file, an output in a missing folder or under a file, a file name not
    ending in ``.wav`` (it writes WAV), and an existing file without ``--overwrite``. With several FILEs
    ``--chime`` is a folder that must exist (a name like ``x.wav`` is refused).
    """
    if chime is None:
        return [None] * len(files)
    root = Path(chime)
    folder = len(files) > 1 or root.is_dir()
    if folder:
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(f"--chime: with several FILEs --chime is a folder, but {root} is a file")
        if not root.exists() and root.suffix.lower() in AUDIO_SUFFIXES:
            raise ValueError(
                f"--chime: with several FILEs --chime is an existing folder (each file's copy goes in it as "
                f"NAME_chimed.wav), but {root} looks like a file name"
            )
        check_folder(root, "--chime")
    else:
        check_folder(root.parent, "--chime")
        if root.suffix.lower() != ".wav":
            raise ValueError(
                f"--chime: the chimed copy is written as WAV, so its name must end in .wav (or be an "
                f"existing folder), got {root.name}"
            )
    targets = [chime_target(chime, f, folder) for f in files]
    inputs = [Path(f) for f in files if f != STDIN]
    seen: dict[Path, str] = {}
    for file, target in zip(files, targets):
        for source in inputs:
            if is_same_path(target, source):
                raise ValueError(
                    f"--chime would write {target}, which is an input of this run; inputs are never "
                    "replaced, not even with --overwrite"
                )
        key = target.resolve()
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {file} would both be chimed to {target}; chime them in separate runs "
                "or give them different names"
            )
        seen[key] = file
        if target.is_dir():
            raise IsADirectoryError(f"--chime: {target} is a folder; give a .wav file name")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists; pass --overwrite to replace it")
    return targets


def stdin_to_file(files: list[str], tmp: Path) -> Path | None:
    """The WAV on standard input as a file in ``tmp`` when a FILE is ``-`` (else None)."""
    if files.count(STDIN) == 0:
        return None
    if files.count(STDIN) > 1:
        raise ValueError("FILE '-' (standard input) may be given only once")
    if sys.stdin is None or sys.stdin.isatty():
        raise ValueError(
            "FILE '-' reads a WAV from standard input, but nothing is piped in (twd-lab detect - < x.wav)"
        )
    path = tmp / "stdin.wav"
    path.write_bytes(sys.stdin.buffer.read())
    return path
