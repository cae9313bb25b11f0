"""Where the bundled assets live, and what is in them.

The assets are installed as the package ``twd_lab.assets`` (the top-level ``assets/`` folder of the
repository), so :func:`importlib.resources.files` finds them in an editable install and in a wheel.

Layout (made by ``python tools/build_assets.py --out assets --seed 0``)::

    assets/
      index.json                       one record per clip (see clip_index)
      chime.wav                        a short synthesized bell, 44.1 kHz
      model.keras                      the trained detector (written by training, not by the builder)
      raw/train/{activates,negatives,backgrounds}/*.wav     voices used for training
      raw/heldout/{activates,negatives,backgrounds}/*.wav   voices never used for training

Each ``raw/<split>`` folder is laid out like the lab's ``raw_data/`` folder, so
``load_raw_audio(bundled_raw_dir("heldout"))`` reads the held-out voices. The split is by *voice*:
a held-out voice has no clip in ``train``, so a score on it is a score on unheard voices.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path

#: The classes of clip, named like the lab's raw_data sub-folders (without the plural).
CLASSES = ("activate", "negative", "background")
#: Sub-folder of a lab-style raw folder for each class.
CLASS_DIRS = {"activate": "activates", "negative": "negatives", "background": "backgrounds"}
#: The splits. Voices (not clips) are assigned to one split.
SPLITS = ("train", "heldout")

INDEX_NAME = "index.json"
CHIME_NAME = "chime.wav"
TALK_SAMPLE_NAME = "talk_sample.wav"
MODEL_NAME = "model.keras"

_BUILD_HINT = "Rebuild the assets with `python tools/build_assets.py --out assets --seed 0`."


def bundled_dir() -> Path:
    """Folder of the installed assets (``assets/`` of the repository, ``twd_lab/assets`` in a wheel)."""
    root = importlib.resources.files("twd_lab.assets")
    # Both editable installs and wheels unpack to a real folder; MultiplexedPath (namespace
    # packages) and zip imports are not supported, and would fail loudly here.
    return Path(str(root))


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def _check_class(cls: str) -> str:
    if cls not in CLASSES:
        raise ValueError(f"cls must be one of {CLASSES}, got {cls!r}")
    return cls


def bundled_raw_dir(split: str = "train") -> Path:
    """A lab-style folder (``activates/``, ``negatives/``, ``backgrounds/`` of .wav files).

    ``split="train"`` (the default, what ``load_raw_audio()`` reads) holds only training voices;
    ``split="heldout"`` holds voices that training never sees.
    """
    path = bundled_dir() / "raw" / _check_split(split)
    if not path.is_dir():
        raise FileNotFoundError(f"bundled audio folder {path} is missing. {_BUILD_HINT}")
    return path


def chime_path() -> Path:
    """Path of the bundled chime (``assets/chime.wav``, 44.1 kHz mono)."""
    path = bundled_dir() / CHIME_NAME
    if not path.is_file():
        raise FileNotFoundError(f"bundled chime {path} is missing. {_BUILD_HINT}")
    return path


def talk_sample_path() -> Path:
    """Path of a minute of synthetic talk in held-out voices and texts (``assets/talk_sample.wav``, 16 kHz
    mono), where a detector should never fire; made by ``tools/build_talk_sample.py``."""
    path = bundled_dir() / TALK_SAMPLE_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled talk sample {path} is missing. Make it with "
            "`python tools/build_talk_sample.py --out assets/talk_sample.wav --seed 0`."
        )
    return path


def model_path() -> Path:
    """Path of the bundled trained model (``assets/model.keras``).

    Raises ``FileNotFoundError`` if it has not been trained yet.
    """
    path = bundled_dir() / MODEL_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"bundled model {path} is missing. Train one with `twd-lab train` and save it there, "
            "or pass a model path explicitly (e.g. `twd-lab detect FILE --model PATH`)."
        )
    return path


def index_path(root: str | Path | None = None) -> Path:
    """Path of ``index.json`` in ``root`` (default: the bundled assets)."""
    return Path(root) / INDEX_NAME if root is not None else bundled_dir() / INDEX_NAME


@functools.lru_cache(maxsize=8)
def _read_index(path: str) -> tuple[dict, ...]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return tuple(data["clips"])


def clip_index(root: str | Path | None = None) -> list[dict]:
    """The records of every bundled clip, read from ``index.json``.

    Each record has at least ``file`` (path relative to ``root``, with ``/``), ``class``
    (``activate``/``negative``/``background``), ``voice``, ``engine``, ``text``, ``speed``,
    ``pitch``, ``split`` (``train``/``heldout``), ``duration_s`` and ``dbfs``.
    Backgrounds have ``engine="noise"``, ``text=""`` and their noise kind as ``voice``.

    >>> recs = clip_index()                                   # doctest: +SKIP
    >>> sorted({r["class"] for r in recs})                   # doctest: +SKIP
    ['activate', 'background', 'negative']
    """
    path = index_path(root)
    if not path.is_file():
        raise FileNotFoundError(f"asset index {path} is missing. {_BUILD_HINT}")
    return [dict(r) for r in _read_index(str(path.resolve()))]


def list_clips(
    cls: str | None = None, split: str | None = None, root: str | Path | None = None
) -> list[Path]:
    """Paths of the clips of class ``cls`` in ``split`` (``None``: any), sorted.

    >>> heldout_activates = list_clips("activate", "heldout")    # doctest: +SKIP
    """
    if cls is not None:
        _check_class(cls)
    if split is not None:
        _check_split(split)
    base = Path(root) if root is not None else bundled_dir()
    return sorted(
        base / r["file"]
        for r in clip_index(root)
        if (cls is None or r["class"] == cls) and (split is None or r["split"] == split)
    )


def voices(split: str | None = None, root: str | Path | None = None) -> list[str]:
    """The TTS voices (not noise kinds) in ``split`` (``None``: all), sorted."""
    if split is not None:
        _check_split(split)
    return sorted(
        {
            r["voice"]
            for r in clip_index(root)
            if r["class"] != "background" and (split is None or r["split"] == split)
        }
    )
