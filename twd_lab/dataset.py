"""Datasets: build ``m`` training examples in parallel onto disk, then stream them back in batches.

4,000 examples are about 9 GB in float32, so nothing holds them all: worker processes write each example
straight into ``.npy`` shards (``X_00000.npy`` of shape ``(n, TX, N_FREQ)``, ``Y_00000.npy`` of shape
``(n, TY, 1)``) next to a ``manifest.json``, and :func:`load_dataset` maps the shards read-only.

Example ``i`` is drawn from its own generator, ``SeedSequence(seed).spawn(m)[i]``, so a dataset depends
on ``seed`` only: not on the number of workers or the order they finish in. TensorFlow/Keras are never
imported here (the Keras wrapper lives in :mod:`twd_lab.training`).

>>> info = build_dataset("data/train", 4000, seed=0)  # doctest: +SKIP
>>> ds = load_dataset("data/train")  # doctest: +SKIP
>>> for x, y in iter_batches(ds, 32, shuffle=True, rng=0):  # doctest: +SKIP
...     ...
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from twd_lab.constants import CLIP_SAMPLES, N_FREQ, TX, TY
from twd_lab.dataset_folder import (
    EXAMPLE_BYTES,
    FORMAT,
    MANIFEST,
    check_free_space,
    check_out_dir,
    recorded_files,
    swap_in,
)

__all__ = [
    "EXAMPLE_BYTES",
    "Dataset",
    "DatasetInfo",
    "ShardedArray",
    "build_dataset",
    "iter_batches",
    "load_dataset",
]

VERSION = 1
_CHUNK = 8  # examples per task: small enough for a smooth progress bar, large enough to batch writes


@dataclass
class DatasetInfo:
    """What :func:`build_dataset` wrote (also stored as ``manifest.json``)."""

    path: str
    m: int
    seed: int
    shard_size: int
    shards: list[dict] = field(default_factory=list)
    x_shape: tuple = (TX, N_FREQ)
    y_shape: tuple = (TY, 1)
    dtype: str = "float32"
    source: str = ""
    augment: str | None = None
    workers: int = 1
    seconds: float = 0.0
    complete: bool = False

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}


# ------------------------------------------------------------------------------------------ building

_STATE: dict = {}  # per worker process: the clips, set once by _init_worker


def _init_worker(backgrounds, activates, negatives, augment, seed) -> None:
    _STATE.update(
        backgrounds=backgrounds, activates=activates, negatives=negatives, augment=augment, seed=seed
    )
    # Buffers reused for every chunk: fresh multi-MB arrays would page-fault on each example.
    _STATE.update(
        xs=np.empty((_CHUNK, TX, N_FREQ), np.float32),
        ys=np.empty((_CHUNK, TY, 1), np.float32),
        audio=np.empty(CLIP_SAMPLES, np.float32),
    )


def _pwrite_all(fd: int, buf: np.ndarray, offset: int) -> None:
    view = memoryview(np.ascontiguousarray(buf)).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _build_chunk(task: tuple) -> int:
    """Build examples ``start … stop-1`` and write them at row ``row`` of one shard. Returns the count."""
    from twd_lab.synthesis import synthesize_example, training_x

    start, stop, row, x_path, x_offset, y_path, y_offset = task
    s = _STATE
    n = stop - start
    xs, ys = s["xs"][:n], s["ys"][:n]
    for k, i in enumerate(range(start, stop)):
        rng = np.random.default_rng(np.random.SeedSequence(s["seed"], spawn_key=(i,)))
        background = s["backgrounds"][int(rng.integers(len(s["backgrounds"])))]
        ex = synthesize_example(
            background, s["activates"], s["negatives"], rng=rng, augment=s["augment"], _audio_out=s["audio"]
        )
        # as create_training_example, written straight into the batch; one thread (each process has a core)
        training_x(ex.audio, out=xs[k], workers=1)
        ys[k, :, 0] = ex.y[0]
    for path, offset, buf in ((x_path, x_offset, xs), (y_path, y_offset, ys)):
        fd = os.open(path, os.O_WRONLY)
        try:
            _pwrite_all(fd, buf, offset + row * buf[0].nbytes)
        finally:
            os.close(fd)
    return n


def _load_raw(raw) -> tuple[list, list, list, str]:
    from twd_lab.audio import fit_to_clip, load_raw_audio

    if raw is None or isinstance(raw, (str, os.PathLike)):
        activates, negatives, backgrounds = load_raw_audio(raw, as_arrays=True)
        return backgrounds, activates, negatives, "bundled assets" if raw is None else str(raw)
    if not (isinstance(raw, Sequence) and len(raw) == 3):
        raise TypeError(
            "raw must be None (bundled assets), a folder path, or an (activates, negatives, backgrounds) "
            f"tuple of float32 arrays, got {type(raw).__name__}"
        )
    activates, negatives, backgrounds = (list(part) for part in raw)
    for name, part in (("activates", activates), ("negatives", negatives), ("backgrounds", backgrounds)):
        if not part:
            raise ValueError(f"raw: {name} holds no clips; at least one is needed")
    as_f32 = (
        [np.asarray(c, dtype=np.float32) for c in activates],
        [np.asarray(c, np.float32) for c in negatives],
    )
    return [fit_to_clip(b) for b in backgrounds], as_f32[0], as_f32[1], "arrays"


def _context():
    # fork where it is safe and cheap (Linux): workers start in milliseconds, inherit the clips, and a
    # script needs no `if __name__ == "__main__":` guard. Elsewhere (macOS, Windows) spawn, which does.
    import sys

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def build_dataset(
    out_dir: str | os.PathLike,
    m: int,
    *,
    raw=None,
    seed: int = 0,
    shard_size: int = 256,
    workers: int | None = None,
    augment: Callable | None = None,
    progress: bool = True,
) -> DatasetInfo:
    """Synthesize ``m`` examples into ``out_dir`` as float32 ``.npy`` shards plus ``manifest.json``.

    ``raw`` is ``None`` (the bundled assets), a lab-style folder, or an ``(activates, negatives,
    backgrounds)`` tuple of float32 arrays at 44.1 kHz. Each example uses a random background and
    :func:`twd_lab.synthesis.create_training_example`; ``augment`` (picklable, e.g. a module-level
    function) is applied to every inserted word. ``workers`` processes (default ``os.cpu_count()``) share
    the work; the result is the same for any ``workers``. A folder that is not empty and is not a
    twd-lab dataset is refused (``FileExistsError``), and so is a dataset the disk cannot hold (``OSError``,
    about 2.2 MB an example), before anything is written.

    The examples are built in a hidden folder beside ``out_dir`` (shards are created as they fill) and
    moved in only when all are done, so an interrupted build (Ctrl-C) leaves an earlier dataset there as it
    was and nothing of its own. An earlier dataset is replaced: of its files only the shards its manifest
    records (``X_00000.npy``, ...) are deleted; anything else in the folder stays.
    """
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be a positive number of examples, got {m!r}")
    if isinstance(shard_size, bool) or not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive number of examples, got {shard_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    backgrounds, activates, negatives, source = _load_raw(raw)
    out = Path(out_dir)
    old = check_out_dir(out)  # nothing is changed until the new dataset is complete
    m, shard_size, seed = int(m), int(shard_size), int(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    old_files = [out / name for name in recorded_files(old or {}) if (out / name).is_file()]
    check_free_space(out.parent, m, sum(f.stat().st_size for f in old_files))
    info = DatasetInfo(
        path=str(out),
        m=m,
        seed=seed,
        shard_size=shard_size,
        source=source,
        workers=workers,
        augment=None if augment is None else getattr(augment, "__qualname__", repr(augment)),
    )
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        t0 = time.perf_counter()
        _build_into(building, info, (backgrounds, activates, negatives, augment, seed), progress)
        info.seconds = round(time.perf_counter() - t0, 3)
        info.complete = True
        swap_in(building, out, info.to_json(), old)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # an interrupted build leaves nothing behind
    return info


def _shard_tasks(folder: Path, info: DatasetInfo) -> Iterator[tuple]:
    """The build's tasks in order; each shard's files are created only when its first task is reached
    (so an interrupted or failing build has not claimed the disk space of shards it never filled)."""
    m, shard_size = info.m, info.shard_size
    for first in range(0, m, shard_size):
        n = min(shard_size, m - first)
        k = len(info.shards)
        names = {"x": f"X_{k:05d}.npy", "y": f"Y_{k:05d}.npy"}
        offsets = {}
        for key, shape in (("x", (n, TX, N_FREQ)), ("y", (n, TY, 1))):
            mm = np.lib.format.open_memmap(folder / names[key], mode="w+", dtype=np.float32, shape=shape)
            offsets[key] = mm.offset  # header length: workers write rows after it
            del mm
        info.shards.append({**names, "n": n, "start": first})
        for a in range(first, first + n, _CHUNK):
            b = min(a + _CHUNK, first + n)
            x_path, y_path = str(folder / names["x"]), str(folder / names["y"])
            yield (a, b, a - first, x_path, offsets["x"], y_path, offsets["y"])


def _build_into(folder: Path, info: DatasetInfo, state: tuple, progress: bool) -> None:
    """Build every example of ``info`` into shards in ``folder`` (``info.shards`` is filled in)."""
    from tqdm.auto import tqdm

    tasks = _shard_tasks(folder, info)
    single = info.workers == 1 or info.m <= _CHUNK
    with tqdm(total=info.m, disable=not progress, unit="ex", desc="examples") as bar:
        if single:
            _init_worker(*state)
            try:
                for task in tasks:
                    bar.update(_build_chunk(task))
            finally:
                _STATE.clear()  # let the clips and buffers go
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(
            info.workers, mp_context=_context(), initializer=_init_worker, initargs=state
        ) as ex:
            pending: deque = deque()
            try:
                for task in tasks:  # a few tasks ahead of the workers, not all of them at once
                    pending.append(ex.submit(_build_chunk, task))
                    while len(pending) >= 2 * info.workers:
                        bar.update(pending.popleft().result())
                while pending:
                    bar.update(pending.popleft().result())
            except BaseException:
                for future in pending:
                    future.cancel()
                raise


# ------------------------------------------------------------------------------------------- loading


class ShardedArray:
    """Several ``.npy`` memmaps seen as one read-only array along axis 0 (ints, slices, index arrays)."""

    def __init__(self, parts: list[np.ndarray]):
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])
        self.shape = (int(self.starts[-1]), *parts[0].shape[1:])
        self.dtype = parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {key} is out of range for {len(self)} examples")
            s = int(np.searchsorted(self.starts, i, side="right") - 1)
            return self.parts[s][i - self.starts[s]]
        idx = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = np.where(idx < 0, idx + len(self), idx)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} examples")
        out = np.empty((idx.size, *self.shape[1:]), self.dtype)
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        for s in np.unique(shard):
            sel = np.flatnonzero(shard == s)
            out[sel] = self.parts[s][idx[sel] - self.starts[s]]
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


@dataclass
class Dataset:
    """A built dataset: ``X`` ``(m, TX, N_FREQ)`` and ``Y`` ``(m, TY, 1)`` read-only, float32."""

    path: Path
    X: np.ndarray | ShardedArray
    Y: np.ndarray | ShardedArray
    info: dict

    def __len__(self) -> int:
        return len(self.X)


def load_dataset(out_dir: str | os.PathLike) -> Dataset:
    """Open a dataset written by :func:`build_dataset`; its shards are memory-mapped read-only.

    A missing, broken or foreign manifest, a missing, truncated or foreign shard, or shards of the wrong
    shape raise ``FileNotFoundError`` / ``ValueError`` naming the file and what is wrong."""
    root = Path(out_dir)
    manifest = root / MANIFEST
    try:
        info = json.loads(manifest.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"out_dir: {root} holds no {MANIFEST}; build it with build_dataset") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"out_dir: {manifest} is not valid JSON ({err}); rebuild the dataset") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"out_dir: {manifest} is not a twd-lab dataset manifest")
    if not info.get("complete"):
        raise ValueError(
            f"out_dir: the dataset in {root} is incomplete (its build was interrupted); rebuild it"
        )
    shards, m = info.get("shards"), info.get("m")
    if not isinstance(shards, list) or not shards or len(recorded_files(info)) != 2 * len(shards):
        raise ValueError(
            f'out_dir: {manifest} has no valid "shards" list (each shard\'s "x" and "y" files); '
            "the manifest is broken: rebuild the dataset"
        )
    whole = isinstance(m, int) and not isinstance(m, bool)
    if not whole:
        raise ValueError(f'out_dir: {manifest} has no whole number "m" of examples; rebuild the dataset')
    arrays = {}
    for key, row_shape in (("x", (TX, N_FREQ)), ("y", (TY, 1))):
        parts = [_open_shard(root / shard[key], row_shape) for shard in shards]
        arrays[key] = parts[0] if len(parts) == 1 else ShardedArray(parts)
    if len(arrays["x"]) != m or len(arrays["y"]) != m:
        raise ValueError(f"out_dir: {root} holds {len(arrays['x'])} examples, its manifest says {m}")
    return Dataset(root, arrays["x"], arrays["y"], info)


def _open_shard(path: Path, row_shape: tuple) -> np.ndarray:
    """One shard, memory-mapped read-only: float32 ``(n, *row_shape)``, or an error naming the file."""
    fix = "rebuild the dataset (twd-lab synth)"
    try:
        part = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"out_dir: the shard {path} is missing; {fix}") from None
    except (ValueError, OSError, EOFError) as err:
        text = str(err)
        if "mmap length is greater than file size" in text or "cannot mmap an empty file" in text:
            why = "it is shorter than its header says (truncated)"
        elif "pickle" in text or "Python objects" in text:
            why = (
                "it holds Python objects (a pickle), not float32 numbers (broken, or not written by twd-lab)"
            )
        else:
            why = " ".join(text.split())
        raise ValueError(f"out_dir: the shard {path} cannot be read: {why}; {fix}") from None
    if not isinstance(part, np.ndarray) or part.dtype != np.float32 or part.shape[1:] != row_shape:
        got = f"{part.dtype} {part.shape}" if isinstance(part, np.ndarray) else type(part).__name__
        raise ValueError(
            f"out_dir: the shard {path} holds {got}, expected float32 (n, {', '.join(map(str, row_shape))}); {fix}"
        )
    return part


def iter_batches(
    ds: Dataset, batch_size: int, *, shuffle: bool = True, rng=None, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x, y)`` NumPy batches of ``(b, TX, N_FREQ)`` and ``(b, TY, 1)``, one pass over ``ds``.

    With ``shuffle`` the order is a permutation drawn from ``rng`` (seed or Generator); each batch is
    read in file order, then arranged in the permuted order.
    """
    from twd_lab.rng import as_generator

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n = len(ds)
    order = as_generator(rng).permutation(n) if shuffle else np.arange(n)
    for a in range(0, n, batch_size):
        idx = order[a : a + batch_size]
        if drop_last and idx.size < batch_size:
            return
        sort = np.argsort(idx, kind="stable")
        x = np.empty((idx.size, *ds.X.shape[1:]), np.float32)
        y = np.empty((idx.size, *ds.Y.shape[1:]), np.float32)
        x[sort] = ds.X[idx[sort]]
        y[sort] = ds.Y[idx[sort]]
        yield x, y
