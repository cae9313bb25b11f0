"""Personalisation: teach the speech-embedding detector one person's "activate" from a few recordings.

A handful of recordings of someone saying the word (5-10 is plenty; WAV, FLAC, OGG, MP3, ... as
:func:`twd_lab.audio.read_wav` reads them, one word per file) are trimmed of silence, level-matched and
mixed, with augmentation, into lab-style 10 s clips on the bundled backgrounds beside the bundled negatives. Clips of the bundled voices go in too
(so the detector keeps hearing everyone else), and clips without the word (so it does not learn to fire on
the room). Only the small head learns (a few epochs, under a minute of CPU); the speech embedding stays
frozen, and the detector passed in is not changed.

    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.personalize import load_recordings, personalize

    mine, info = personalize(EmbeddingDetector.load(), load_recordings("my_activates/"), seed=0)
    mine.save("my_detector.keras")       # then: twd-lab detect --head my_detector.keras FILE.wav

or ``twd-lab personalize my_activates/ --out my_detector.keras``. What it does to recall and false
accepts, on real people and on held-out voices: ``python benchmarks/bench_personalize.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from twd_lab.constants import CLIP_MS, SAMPLE_RATE, TARGET_DBFS
from twd_lab.rng import RngLike, as_generator

#: Fewer recordings than this cannot show the detector a voice.
MIN_RECORDINGS = 3
#: One word per file: longer than this after trimming silence is not one "activate" (the longest real
#: clip in the course's own recordings is 2.4 s with its room tail).
MAX_WORD_S = 2.5
MIN_WORD_S = 0.2
CLIP_S = CLIP_MS / 1000


def prepare_recording(samples: np.ndarray, name: str = "recording") -> np.ndarray:
    """One recording (float, 44.1 kHz, mono) ready to mix: silence trimmed, level -20 dBFS.

    Raises ``ValueError`` naming ``name`` when what is left is silent, shorter than 0.2 s or longer than
    ``MAX_WORD_S`` seconds.
    """
    from twd_lab.audio import apply_gain, dbfs
    from twd_lab.tts import trim_silence

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected mono samples of shape (n,), got shape {x.shape}")
    level = dbfs(x) if x.size else float("-inf")
    if not np.isfinite(level):
        raise ValueError(f"{name}: the recording is silent")
    x = trim_silence(x, SAMPLE_RATE, threshold_db=-40.0, pad_ms=50.0)
    seconds = x.size / SAMPLE_RATE
    if not MIN_WORD_S <= seconds <= MAX_WORD_S:
        raise ValueError(
            f"{name}: expected one spoken word of {MIN_WORD_S}-{MAX_WORD_S} s once silence is trimmed, "
            f"got {seconds:.2f} s"
        )
    return apply_gain(x, TARGET_DBFS - dbfs(x))


def load_recordings(folder, *, what: str = "the word") -> list[np.ndarray]:
    """The audio files of ``folder`` (sorted by name; WAV, FLAC, OGG, MP3, ... as ``twd-lab detect`` reads
    them, see :data:`twd_lab.decoding.AUDIO_SUFFIXES`), each through :func:`prepare_recording`.

    Needs at least ``MIN_RECORDINGS`` files (of ``what``, for the message); every error names the file.
    """
    from twd_lab.audio import read_wav
    from twd_lab.decoding import AUDIO_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"recordings folder {folder} does not exist or is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if len(files) < MIN_RECORDINGS:
        others = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        others = [name for name in others if Path(name).suffix.lower() not in AUDIO_SUFFIXES]
        unread = (
            f"; its {len(others)} other file(s) ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}) "
            "are not audio it reads: convert recordings to WAV, e.g. ffmpeg -i take1.wma take1.wav"
            if others
            else ""
        )
        raise ValueError(
            f"recordings folder {folder} holds {len(files)} audio file(s) (WAV, FLAC, OGG, MP3, M4A, ...); "
            f"at least {MIN_RECORDINGS} recordings of {what} are needed (5-10 is better){unread}"
        )
    return [prepare_recording(read_wav(p), name=str(p)) for p in files]


def personalize(
    detector,
    recordings,
    *,
    raw=None,
    other_words=None,
    clips: int = 150,
    epochs: int = 4,
    learning_rate: float = 3e-4,
    no_word_share: float = 0.25,
    hard_negative_weight: float = 3.0,
    check_clips: int = 60,
    seed: RngLike = 0,
    progress: bool = False,
):
    """Fine-tune a copy of ``detector``'s head on ``recordings``; returns ``(new_detector, info)``.

    ``recordings``: float arrays at 44.1 kHz, one word each (:func:`load_recordings` or
    :func:`prepare_recording` makes them). ``raw``: ``(activates, negatives, backgrounds)`` float arrays
    for everything else (default: the bundled training voices). ``other_words``: optional recordings of
    the same person saying other words, used as the negatives of their clips. ``clips`` 10 s clips carry the
    recordings (0-4 each, augmented), ``clips // 2`` carry the bundled voices and ``no_word_share * clips``
    have no word at all; windows of those where ``detector`` already says more than 0.2 count
    ``hard_negative_weight`` times. Afterwards both heads run on ``check_clips`` fresh clips without the
    word: ``info["false_accepts_per_hour"]`` gives ``before`` and ``after``, so that a personalisation
    that made the detector jumpier shows it (measured, it often does: see ``bench_personalize.py``). ``info`` counts clips and windows and says how long it took.
    """
    import time

    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.embedding_detector import (
        embedded_examples,
        hard_negative_windows,
        train_head,
        training_arrays,
    )

    recordings = [prepare_recording(r, name=f"recordings[{i}]") for i, r in enumerate(recordings)]
    other_words = [prepare_recording(r, name=f"other_words[{i}]") for i, r in enumerate(other_words or [])]
    if len(recordings) < MIN_RECORDINGS:
        raise ValueError(f"recordings: at least {MIN_RECORDINGS} are needed, got {len(recordings)}")
    if clips < 4:
        raise ValueError(f"clips must be at least 4, got {clips}")
    if not 0 <= no_word_share <= 4:
        raise ValueError(f"no_word_share must be between 0 and 4 (a share of clips), got {no_word_share}")
    started = time.perf_counter()
    rng = as_generator(seed)
    if raw is None:
        from twd_lab.audio import load_raw_audio

        raw = load_raw_audio(None, as_arrays=True)
    activates, negatives, backgrounds = raw
    cfg = detector.config
    n_quiet = round(clips * no_word_share)
    # the same person's other words, when given, are the negatives beside their "activate", and join the
    # bundled ones in the clips without the word
    own_negatives = other_words or negatives
    features = detector.embed  # the embeddings its head hears (through its own front end)
    parts = [
        embedded_examples(
            (recordings, own_negatives, backgrounds), clips, rng=rng, progress=progress, features=features
        ),
        embedded_examples((activates, negatives, backgrounds), clips // 2, rng=rng, features=features),
        embedded_examples(
            (activates, negatives + other_words, backgrounds),
            n_quiet,
            rng=rng,
            n_activates=0,
            features=features,
        ),
    ]
    X, y, w = training_arrays(parts[0] + parts[1] + parts[2], history=cfg.history)
    # where the detector already comes close to firing on audio without the word: weigh it more
    hard = hard_negative_windows(detector.head, parts[2], history=cfg.history) if n_quiet else X[:0]
    X = np.concatenate([X, hard])
    y = np.concatenate([y, np.zeros(len(hard), y.dtype)])
    w = np.concatenate([w, np.full(len(hard), hard_negative_weight, w.dtype)])
    import keras

    train_seed = int(rng.integers(2**31))
    keras.utils.set_random_seed(train_seed)  # before the copy: its dropout layers draw their seeds now
    head = _copy_model(detector.head)
    train_head(head, X, y, w, epochs=epochs, learning_rate=learning_rate, seed=train_seed)
    # a check the user can read: how often each head fires on fresh audio without the word
    check = embedded_examples(
        (activates, negatives + other_words, backgrounds),
        check_clips,
        rng=rng,
        n_activates=0,
        features=features,
    )
    hours = check_clips * CLIP_S / 3600
    before, after = (
        _false_accepts(EmbeddingDetector(h, cfg, front_end=detector.front_end), check.emb) / hours
        for h in (detector.head, head)
    )
    info = {
        "recordings": len(recordings),
        "other_words": len(other_words),
        "clips": {"with_recordings": clips, "bundled_voices": clips // 2, "no_word": n_quiet},
        "windows": len(y),
        "hard_negative_windows": len(hard),
        "positive_windows": int(y.sum()),
        "epochs": int(epochs),
        "learning_rate": float(learning_rate),
        "false_accepts_per_hour": {"before": before, "after": after, "hours": round(hours, 3)},
        "seconds": round(time.perf_counter() - started, 1),
    }
    notes = dict(cfg.notes or {})
    notes["personalized"] = info
    return EmbeddingDetector(head, dataclasses.replace(cfg, notes=notes), front_end=detector.front_end), info


def _false_accepts(detector, clip_embeddings) -> int:
    return sum(
        len(detector.trigger_steps(detector.probabilities_from_embeddings(e)[0])) for e in clip_embeddings
    )


def _copy_model(model):
    """A fresh copy of a Keras model with the same weights (the original keeps training state)."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy
