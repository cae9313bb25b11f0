"""Phrases that sound like parts of "activate", found from phonemes: adversarial negatives.

A detector that has only heard "activate" against unrelated words learns to fire on anything that
starts like it ("back to...", "act of...") or ends like it ("...innovate", "...tivate"). The way to teach
it otherwise is to let it hear such phrases as negatives, as openWakeWord does: spell every word of a
vocabulary in phonemes (``espeak-ng -x``), and keep the words and word pairs whose phonemes come within
a small edit distance of the trigger's.

>>> trigger = phonemes(["activate"])["activate"]          # doctest: +SKIP
>>> trigger
('a', 'k', 't', 'I', 'v', 'eI', 't')
>>> confusable_phrases(vocabulary(talk_sentences("train")), max_distance=2)[:3]   # doctest: +SKIP
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Sequence

import numpy as np

from twd_lab.rng import RngLike, as_generator

TRIGGER = "activate"
#: espeak-ng's stress and length marks, and its variants of a vowel ('I#' is an unstressed 'I').
_MARKS = re.compile(r"[',%=_:;!]")


def _clean(token: str) -> str:
    return _MARKS.sub("", token).replace("#", "")


def phonemes(words: Sequence[str], *, voice: str = "en-us") -> dict[str, tuple[str, ...]]:
    """``{word: phonemes}`` of ``words`` by ``espeak-ng -x`` (one process for all of them)."""
    words = [w for w in dict.fromkeys(words) if w.strip()]
    if not words:
        return {}
    text = "".join(f"{w}.\n" for w in words)
    res = subprocess.run(
        ["espeak-ng", "-q", "-x", "--sep= ", "-v", voice],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) != len(words):
        raise RuntimeError(f"espeak-ng gave {len(lines)} phoneme lines for {len(words)} words")
    return {w: tuple(t for t in (_clean(x) for x in ln.split()) if t) for w, ln in zip(words, lines)}


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two phoneme sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def vocabulary(sentences: Iterable[str], *, min_letters: int = 2) -> list[str]:
    """Distinct lower-case words of ``sentences`` (letters only, none containing "activ"), sorted."""
    words = {w.lower() for s in sentences for w in re.findall(r"[A-Za-z]+", s)}
    return sorted(w for w in words if len(w) >= min_letters and "activ" not in w)


def confusable_phrases(
    vocab: Sequence[str], *, max_distance: int = 2, max_pairs_per_word: int = 20, trigger: str = TRIGGER
) -> list[tuple[str, int]]:
    """Words and word pairs of ``vocab`` whose phonemes are within ``max_distance`` edits of the
    ``trigger``'s, as ``[(phrase, distance), ...]``, nearest first (ties in alphabetical order).

    Pairs join a word that sounds like the trigger's start with one that sounds like its end: the first
    word must share the trigger's first phoneme after its own first phonemes, the second must end like
    the trigger ends. At most ``max_pairs_per_word`` pairs are kept per first word.
    """
    table = phonemes(list(vocab) + [trigger])
    target = table.pop(trigger)
    found: dict[str, int] = {}
    for w, p in table.items():
        if p and edit_distance(p, target) <= max_distance:
            found[w] = edit_distance(p, target)
    # heads: words ending in a piece of the trigger's start; tails: words ending like the trigger
    heads = [w for w, p in table.items() if 1 <= len(p) <= len(target) and _overlaps_start(p, target)]
    tails = [w for w, p in table.items() if 1 <= len(p) <= len(target) and p[-2:] == target[-2:]]
    for h in heads:
        ph = table[h]
        scored = []
        for t in tails:
            d = edit_distance(ph + table[t], target)
            if d <= max_distance:
                scored.append((d, f"{h} {t}"))
        for d, phrase in sorted(scored)[:max_pairs_per_word]:
            found.setdefault(phrase, d)
    return sorted(found.items(), key=lambda kv: (kv[1], kv[0]))


def _overlaps_start(p: tuple[str, ...], target: tuple[str, ...]) -> bool:
    """Whether ``p`` ends with the first 2+ phonemes of ``target`` ("back" ends in /a k/)."""
    return any(p[-k:] == target[:k] for k in range(2, min(len(p), len(target)) + 1))


def render_phrases(
    phrases: Sequence[str], voices: Sequence, n: int, *, rng: RngLike = None, sample_rate: int | None = None
) -> list[np.ndarray]:
    """``n`` clips of random ``phrases`` in random ``voices`` at random rates and pitches (the word
    assets' ranges), float32 at ``sample_rate`` (default: the lab's 44.1 kHz), trimmed and level-matched
    like the word assets."""
    from twd_lab import tts
    from twd_lab.assets_build import PITCH_RANGE, SPEED_RANGE
    from twd_lab.constants import SAMPLE_RATE

    rng = as_generator(rng)
    if not phrases or not voices:
        raise ValueError("render_phrases needs at least one phrase and one voice")
    requests = [
        tts.Request(
            phrases[int(rng.integers(len(phrases)))],
            voices[int(rng.integers(len(voices)))],
            float(rng.uniform(*SPEED_RANGE)),
            float(rng.uniform(*PITCH_RANGE)),
        )
        for _ in range(int(n))
    ]
    return tts.render_many(requests, sample_rate=sample_rate or SAMPLE_RATE)
