"""Continuous synthetic talk: sentences in many TTS voices, for training on and measuring false accepts.

Isolated words on a background cannot show how often a detector fires while people talk: a detector
taught only on single words hears ordinary phrases ("in fact", "the next morning") as "activate" over
a hundred times an hour. This module makes the talk that teaches it otherwise, and the talk that
measures it, offline and from a seed:

* **texts**: sentences from the ``fortunes`` Debian package (:func:`talk_sentences`), none containing
  "activ". The fortune files are split by topic: training never reads the :data:`HELDOUT_TOPICS`.
* **voices**: every installed TTS voice (:mod:`twd_lab.tts`), split by speaker exactly as the word
  assets are (:func:`twd_lab.assets_build.split_speakers`), so held-out talk is in voices training
  never heard.
* **clips** (:func:`talk_clip`): one person talking, two taking turns, or a speaker over a crowd
  (babble), at 120-230 words a minute with pauses, optionally through the word augmenter (rooms,
  EQ, pitch), over a background at 5-30 dB SNR, and optionally with "activate" said in the middle of
  the talk (talk right before and after the word). The mix is level-matched to -20 dBFS, as
  ``twd-lab detect`` hears a file.

>>> clip = talk_clip(talk_sentences("train"), talk_voices("train"), rng=0)   # doctest: +SKIP
>>> clip.audio.shape, clip.word_ends_s                                       # doctest: +SKIP
((441000,), [])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE, TARGET_DBFS
from twd_lab.rng import RngLike, as_generator

#: Where Debian's ``fortunes`` and ``fortunes-min`` packages put their texts.
FORTUNE_DIR = Path("/usr/share/games/fortunes")
#: Fortune files that are pictures, code or other languages, not sentences to say.
SKIPPED_TOPICS = frozenset({"art", "ascii-art", "perl", "translate-me", "debian", "linux", "computers"})
#: Fortune topics kept for measuring: training never reads them.
HELDOUT_TOPICS = frozenset({"literature", "people", "science", "politics", "wisdom", "love", "humorists"})
#: A sentence containing this (any case) is dropped: talk must not hold the trigger word.
TRIGGER_STEM = "activ"
#: Sentences shorter or longer than this many words are dropped.
WORDS_RANGE = (3, 28)
#: Speaking rate factors on each engine's default (espeak-ng's 175 wpm -> 122-228 wpm).
SPEED_RANGE = (0.7, 1.3)
PITCH_RANGE = (0.85, 1.2)
#: Pause between utterances (s); one pause in :data:`LONG_PAUSE_P` is 1-2.5 s.
PAUSE_RANGE_S = (0.08, 0.8)
LONG_PAUSE_P = 0.1
#: How a clip is spoken: one talker, two taking turns, or a talker over 2-4 others (babble).
MODES = ("monologue", "dialogue", "babble")
MODE_P = (0.5, 0.3, 0.2)
#: Speech-to-background ratio (dB) when a background is mixed in.
SNR_RANGE_DB = (5.0, 30.0)
#: A crowd (:func:`crowd_clip`): how many talkers at once, and each one's level against the others (dB).
CROWD_TALKERS = (4, 8)
CROWD_GAIN_DB = (-6.0, 0.0)

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"']?\s+")
_ALLOWED = re.compile(r"^[A-Za-z0-9 ,.;:'!?\-]+$")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` fit to be spoken: plain ASCII words and punctuation, :data:`WORDS_RANGE`
    words, no "activ" in them.

    >>> split_sentences("Go on. Activate it now!  It is a fine day, isn't it?")
    ["It is a fine day, isn't it?"]
    """
    out = []
    for s in _SENTENCE_END.split(" ".join(text.split())):
        s = s.strip(' "').lstrip(".'").strip()
        if s.startswith("-"):  # an attribution ("- Winston Churchill") or a dash-led fragment
            continue
        n_words = len(s.split())
        if not (WORDS_RANGE[0] <= n_words <= WORDS_RANGE[1]) or not _ALLOWED.match(s):
            continue
        if TRIGGER_STEM in s.lower() or not any(c.isalpha() for c in s):
            continue
        out.append(s)
    return out


def fortune_topics(fortune_dir: str | Path = FORTUNE_DIR) -> list[str]:
    """The fortune files (topics) that hold sentences, sorted; empty when ``fortunes`` is not installed."""
    d = Path(fortune_dir)
    if not d.is_dir():
        return []
    return sorted(
        p.name for p in d.iterdir() if p.is_file() and not p.suffix and p.name not in SKIPPED_TOPICS
    )


def topic_split(topic: str) -> str:
    """``"heldout"`` for a topic in :data:`HELDOUT_TOPICS`, else ``"train"``."""
    return "heldout" if topic in HELDOUT_TOPICS else "train"


def _topic_sentences(topics: Sequence[str], fortune_dir: str | Path) -> set[str]:
    found: set[str] = set()
    for topic in topics:
        text = (Path(fortune_dir) / topic).read_text(encoding="utf-8", errors="replace")
        for entry in text.split("\n%\n"):
            # drop attributions ("-- Mark Twain")
            lines = [ln for ln in entry.splitlines() if not ln.strip().startswith("--")]
            found.update(split_sentences(" ".join(lines)))
    return found


def talk_sentences(split: str, fortune_dir: str | Path = FORTUNE_DIR) -> list[str]:
    """Every distinct sentence of the fortune topics of ``split`` (``"train"`` or ``"heldout"``), sorted.

    A sentence that also stands in a held-out topic is held out, so the two lists never share one.
    Raises ``RuntimeError`` with the install hint when the ``fortunes`` package is missing.
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    topics = fortune_topics(fortune_dir)
    if not any(topic_split(t) == split for t in topics):
        raise RuntimeError(
            f"no fortune texts in {fortune_dir}; on Debian/Ubuntu: apt-get install fortunes fortunes-min"
        )
    heldout = _topic_sentences([t for t in topics if topic_split(t) == "heldout"], fortune_dir)
    if split == "heldout":
        return sorted(heldout)
    return sorted(_topic_sentences([t for t in topics if topic_split(t) == "train"], fortune_dir) - heldout)


def talk_voices(split: str) -> list:
    """The installed TTS voices (:class:`twd_lab.tts.Voice`) of ``split``'s speakers, as the word assets
    split them (:func:`twd_lab.assets_build.split_speakers`)."""
    from twd_lab import tts
    from twd_lab.assets_build import split_speakers

    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    speakers = split_speakers()
    voices = [v for v in tts.all_voices() if speakers.get(v.speaker, "train") == split]
    if not voices:
        raise RuntimeError(
            "no TTS voice is installed; on Debian/Ubuntu: apt-get install espeak-ng flite festival "
            "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
        )
    return voices


@dataclass
class TalkClip:
    """``audio`` (n,) float32 at 44.1 kHz, and where each "activate" said in it ends (s)."""

    audio: np.ndarray
    word_ends_s: list[float] = field(default_factory=list)
    mode: str = "monologue"


def _say(sentences, voice, rng, augment) -> np.ndarray:
    """One utterance: a random sentence in ``voice`` at a random rate and pitch, at 44.1 kHz."""
    from twd_lab import tts

    text = sentences[int(rng.integers(len(sentences)))]
    speed, pitch = rng.uniform(*SPEED_RANGE), rng.uniform(*PITCH_RANGE)
    x = tts.render_many([tts.Request(text, voice, speed, pitch)], sample_rate=SAMPLE_RATE)[0]
    return x if augment is None else np.asarray(augment(x, rng), np.float32)


def _pause_s(rng) -> float:
    if rng.random() < LONG_PAUSE_P:
        return float(rng.uniform(1.0, 2.5))
    return float(rng.uniform(*PAUSE_RANGE_S))


def _talker_track(
    n: int, sentences, voices: Sequence, rng, augment, *, words: Sequence = (), start_s: float = 0.0
) -> tuple[np.ndarray, list[float]]:
    """Utterances one after another from ``start_s`` until ``n`` samples are filled, each in one of
    ``voices`` (drawn per utterance). ``words`` (44.1 kHz clips) are said between utterances at random
    places; returns the track and where each word ends (s)."""
    track = np.zeros(n, np.float32)
    ends: list[float] = []
    pos = int(start_s * SAMPLE_RATE)
    pending = list(words)
    while pos < n:
        # a word comes next with a chance that spreads the pending words over the clip
        left_s = (n - pos) / SAMPLE_RATE
        if pending and rng.random() < min(1.0, 3.0 * len(pending) / max(left_s, 1e-3)):
            clip = np.asarray(pending.pop(0), np.float32)
            if augment is not None:
                clip = np.asarray(augment(clip, rng), np.float32)
            if pos + clip.size > n:  # no room left for the whole word: it is not said
                break
            track[pos : pos + clip.size] += clip
            ends.append((pos + clip.size) / SAMPLE_RATE)
        else:
            voice = voices[int(rng.integers(len(voices)))]
            clip = _say(sentences, voice, rng, augment)[: n - pos]
            track[pos : pos + clip.size] += clip
        pos += clip.size + int(_pause_s(rng) * SAMPLE_RATE)
    return track, ends


def mix_crowd(tracks: Sequence[np.ndarray], rng: RngLike = None) -> np.ndarray:
    """``tracks`` (one talker each, same length) summed, each at a random gain in :data:`CROWD_GAIN_DB`:
    no talker stands out, as in a room full of people."""
    rng = as_generator(rng)
    out = np.zeros(len(tracks[0]), np.float32)
    for track in tracks:
        out += np.float32(10 ** (rng.uniform(*CROWD_GAIN_DB) / 20)) * np.asarray(track, np.float32)
    return out


def crowd_clip(
    sentences: Sequence[str],
    voices: Sequence,
    *,
    rng: RngLike = None,
    duration_s: float = 10.0,
    augment=None,
    target_dbfs: float = TARGET_DBFS,
) -> np.ndarray:
    """``duration_s`` of a crowd: :data:`CROWD_TALKERS` synthetic talkers at once, none of them in front
    (:func:`mix_crowd`), float32 at 44.1 kHz, level-matched to ``target_dbfs``. Unlike
    ``talk_clip(mode="babble")``, whose one talker stands 6-15 dB over the others, this is the din a word
    must be heard through at a party."""
    from twd_lab.audio import match_target_amplitude

    rng = as_generator(rng)
    if not sentences or not voices:
        raise ValueError("sentences and voices must each hold at least one item")
    n = round(float(duration_s) * SAMPLE_RATE)
    tracks = [
        _talker_track(
            n, sentences, [voices[int(rng.integers(len(voices)))]], rng, augment, start_s=rng.uniform(0, 1)
        )[0]
        for _ in range(int(rng.integers(CROWD_TALKERS[0], CROWD_TALKERS[1] + 1)))
    ]
    return match_target_amplitude(mix_crowd(tracks, rng), target_dbfs).astype(np.float32)


def talk_clip(
    sentences: Sequence[str],
    voices: Sequence,
    *,
    rng: RngLike = None,
    duration_s: float = 10.0,
    backgrounds: Sequence[np.ndarray] = (),
    background_p: float = 0.6,
    activates: Sequence[np.ndarray] = (),
    n_activates: int = 0,
    augment=None,
    mode: str | None = None,
    target_dbfs: float = TARGET_DBFS,
) -> TalkClip:
    """``duration_s`` of synthetic talk, float32 at 44.1 kHz, level-matched to ``target_dbfs``.

    ``sentences`` and ``voices``: what is said and by whom (:func:`talk_sentences`, :func:`talk_voices`).
    ``mode``: one of :data:`MODES` (default: drawn with :data:`MODE_P`). ``backgrounds``: 44.1 kHz clips;
    with chance ``background_p`` one is looped under the talk at :data:`SNR_RANGE_DB`. ``n_activates``
    clips drawn from ``activates`` are said between the main talker's sentences. ``augment``: a callable
    ``(clip, rng) -> clip`` applied to every utterance (e.g. :class:`twd_lab.augment.WordAugmenter`).
    """
    from twd_lab.audio import match_target_amplitude
    from twd_lab.augment import rms_db

    rng = as_generator(rng)
    if not sentences:
        raise ValueError("sentences must hold at least one sentence")
    if not voices:
        raise ValueError("voices must hold at least one TTS voice")
    if not 0 < float(duration_s) <= 3600:
        raise ValueError(f"duration_s must be in (0, 3600] seconds, got {duration_s!r}")
    if n_activates and not len(activates):
        raise ValueError(f"n_activates={n_activates} needs activates clips, got none")
    mode = MODES[int(rng.choice(len(MODES), p=MODE_P))] if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    n = round(float(duration_s) * SAMPLE_RATE)
    words = (
        [activates[int(i)] for i in rng.integers(len(activates), size=int(n_activates))]
        if n_activates
        else []
    )
    n_main = 2 if mode == "dialogue" else 1
    main_voices = [voices[int(i)] for i in rng.choice(len(voices), size=n_main, replace=len(voices) < n_main)]
    speech, ends = _talker_track(
        n, sentences, main_voices, rng, augment, words=words, start_s=rng.uniform(0.0, 1.0)
    )
    if mode == "babble":
        for _ in range(int(rng.integers(2, 5))):
            other, _ = _talker_track(
                n,
                sentences,
                [voices[int(rng.integers(len(voices)))]],
                rng,
                augment,
                start_s=rng.uniform(0, 2),
            )
            speech += np.float32(10 ** (rng.uniform(-15.0, -6.0) / 20)) * other
    if len(backgrounds) and rng.random() < background_p:
        bg = np.asarray(backgrounds[int(rng.integers(len(backgrounds)))], np.float32)
        bg = np.resize(bg, n) if bg.size else np.zeros(n, np.float32)
        level = rms_db(bg)
        if np.isfinite(level) and level > -200:
            snr = rng.uniform(*SNR_RANGE_DB)
            speech = speech + bg * np.float32(10 ** ((rms_db(speech) - snr - level) / 20))
    mixed = match_target_amplitude(speech, target_dbfs)
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    if peak > 0.99:  # a limiter, as a recorder's would: never clip, at the cost of a little level
        mixed = mixed * np.float32(0.99 / peak)
    return TalkClip(mixed.astype(np.float32), ends, mode)
