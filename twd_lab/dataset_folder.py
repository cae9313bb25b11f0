"""A dataset's folder, kept safe: what an earlier build recorded, room on the disk, an all-or-nothing swap.

:func:`twd_lab.dataset.build_dataset` builds in a hidden folder beside ``out_dir`` and calls :func:`swap_in`
only when every example is written, so an interrupted build leaves an earlier dataset as it was. Only files
an earlier build wrote *and* recorded in its manifest (names like ``X_00000.npy``) are ever deleted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from twd_lab.constants import N_FREQ, TX, TY

FORMAT = "twd-lab-dataset"
MANIFEST = "manifest.json"
#: The only file names a build writes for its shards; nothing else is ever deleted.
SHARD_NAME = re.compile(r"[XY]_\d{5}\.npy")
#: Bytes one example takes on disk: a float32 (TX, N_FREQ) spectrogram and (TY, 1) labels, ~2.2 MB.
EXAMPLE_BYTES = 4 * (TX * N_FREQ + TY)

__all__ = [
    "EXAMPLE_BYTES",
    "FORMAT",
    "MANIFEST",
    "SHARD_NAME",
    "check_free_space",
    "check_out_dir",
    "read_manifest",
    "recorded_files",
    "swap_in",
    "write_manifest",
]


def read_manifest(out: Path) -> dict | None:
    """The manifest in ``out`` if it is one of ours, else None."""
    try:
        old = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return old if isinstance(old, dict) and old.get("format") == FORMAT else None


def recorded_files(manifest: dict) -> list[str]:
    """The shard files an earlier build wrote and recorded in its manifest: only names it could have
    written (``X_00000.npy``), so a manifest that names any other file can never make us delete it."""
    shards = manifest.get("shards")
    names = []
    for shard in shards if isinstance(shards, list) else []:
        for key in ("x", "y") if isinstance(shard, dict) else ():
            name = shard.get(key)
            if isinstance(name, str) and SHARD_NAME.fullmatch(name):
                names.append(name)
    return names


def check_out_dir(out: Path) -> dict | None:
    """Refuse an ``out`` we may not write (a file; a non-empty folder that is not one of our datasets)
    without changing anything; return the earlier dataset's manifest, if ``out`` holds one."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir must be a folder, but {out} is a file")
    if not out.exists() or not any(out.iterdir()):
        return None
    old = read_manifest(out)
    if old is None:
        raise FileExistsError(
            f"out_dir {out} is not empty and holds no twd-lab dataset ({MANIFEST}); "
            "choose a new or empty folder (nothing was written)"
        )
    return old


def check_free_space(folder: Path, m: int, reclaimable: int = 0) -> None:
    """Refuse, before writing anything, a dataset that cannot fit on ``folder``'s disk."""
    need = m * EXAMPLE_BYTES
    free = shutil.disk_usage(folder).free
    if need > free:
        raise OSError(
            f"out_dir: {m:,} examples need {need / 1e9:,.1f} GB ({EXAMPLE_BYTES / 1e6:.1f} MB each) but only "
            f"{free / 1e9:,.1f} GB are free on {folder.resolve()}"
            + (
                f" (the earlier dataset's {reclaimable / 1e9:,.1f} GB are freed only after)"
                if reclaimable
                else ""
            )
            + "; ask for fewer examples or choose another disk (nothing was written)"
        )


@contextmanager
def no_interrupt():
    """Hold Ctrl-C (SIGINT) back for a few renames, then raise it: the swap is never left half-done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def swap_in(building: Path, out: Path, manifest: dict, old: dict | None) -> None:
    """Move the complete dataset in ``building`` into ``out``, replacing the earlier one's recorded files.

    Until the moment this starts, ``out`` holds the earlier dataset untouched; during it (a few renames,
    with Ctrl-C held back) the manifest says "incomplete"; after it, the new dataset."""
    out.mkdir(parents=True, exist_ok=True)
    new_names = set(recorded_files(manifest))
    with no_interrupt():
        if old is not None:
            write_manifest(out, {**manifest, "complete": False})
            for name in set(recorded_files(old)) - new_names:
                (out / name).unlink(missing_ok=True)
        for name in sorted(new_names):
            os.replace(building / name, out / name)
        write_manifest(out, manifest)


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write ``manifest.json`` whole or not at all (a temporary file, then an atomic rename)."""
    part = folder / (MANIFEST + ".part")
    part.write_text(json.dumps(manifest, indent=1))
    os.replace(part, folder / MANIFEST)
