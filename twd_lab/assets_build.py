"""Build the project's own audio assets from a seed: TTS words, noise backgrounds, a chime.

``python tools/build_assets.py --out assets --seed 0`` calls :func:`build_assets`; with the same
engines installed (the versions are recorded in ``index.json``) it writes the same bytes every time:
the plan of what to render is drawn from the seed, the engines are deterministic for fixed
parameters, and everything is processed in a fixed order.

``scale`` multiplies the number of clips (``scale=4`` for a larger training set on demand, written to
any folder; the shipped set is ``scale=1``). Voices are split into ``train`` and ``heldout`` by
*speaker* (an espeak-ng variant in all its accents, or a CMU speaker in all its engines), so a
held-out speaker is never heard in training.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import scipy.io.wavfile

from twd_lab import noise, tts
from twd_lab.assets_index import CHIME_NAME, CLASS_DIRS, INDEX_NAME
from twd_lab.constants import SAMPLE_RATE

#: How "activate" is written; punctuation changes the engines' intonation.
TRIGGER_TEXTS = ("activate", "Activate!", "activate?")
#: Words that sound close to "activate": the model must learn to say no to them.
HARD_NEGATIVES = (
    "activity", "active", "activist", "actor", "captivate", "cultivate", "motivate", "actuate",
    "agitate", "elevate", "navigate", "vacate", "estimate", "adequate", "attitude",
)  # fmt: skip
#: Ordinary English words for negatives (and babble). None sounds like "activate".
ORDINARY_WORDS = (
    "about", "above", "across", "after", "again", "against", "air", "almost", "alone", "along",
    "already", "always", "animal", "answer", "apple", "area", "around", "baby", "back", "ball",
    "banana", "basket", "beach", "beautiful", "because", "bedroom", "before", "begin", "behind",
    "believe", "below", "better", "between", "bicycle", "bird", "black", "blue", "boat", "body",
    "book", "bottle", "bread", "breakfast", "bridge", "bright", "brother", "brown", "building",
    "butter", "button", "cabbage", "camera", "candle", "carpet", "carry", "castle", "cat", "chair",
    "change", "cheese", "chicken", "children", "chocolate", "city", "clean", "clock", "close",
    "cloud", "coffee", "cold", "colour", "computer", "cookie", "corner", "country", "cousin",
    "cover", "dance", "danger", "daughter", "decide", "dinner", "doctor", "dollar", "door", "dream",
    "drink", "during", "early", "earth", "easy", "eight", "elephant", "empty", "engine", "enough",
    "evening", "every", "example", "family", "farmer", "father", "feather", "finger", "finish",
    "fire", "flower", "follow", "forest", "forget", "forward", "four", "friday", "friend", "front",
    "garden", "general", "giraffe", "glass", "golden", "good", "great", "green", "guitar", "hammer",
    "happy", "heavy", "hello", "holiday", "honey", "horse", "hospital", "hundred", "husband",
    "idea", "island", "jacket", "journey", "juice", "kitchen", "ladder", "language", "laptop",
    "later", "lemon", "letter", "library", "light", "listen", "little", "lunch", "machine",
    "market", "matter", "maybe", "medicine", "memory", "message", "middle", "minute", "mirror",
    "monday", "money", "monkey", "morning", "mother", "mountain", "music", "number", "ocean",
    "office", "orange", "other", "outside", "paper", "parent", "party", "pencil", "people",
    "pepper", "perhaps", "picture", "pillow", "planet", "please", "pocket", "potato", "present",
    "problem", "purple", "question", "quickly", "rabbit", "radio", "rainbow", "really", "remember",
    "river", "rocket", "salad", "sandwich", "saturday", "school", "second", "seven", "shadow",
    "shoulder", "silver", "simple", "sister", "window", "slowly", "small", "something", "sometimes",
    "special", "spider", "spring", "station", "story", "street", "strong", "student", "sugar",
    "summer", "sunday", "supper", "sweater", "table", "teacher", "telephone", "television",
    "thank you", "thirteen", "thursday", "ticket", "tiger", "today", "together", "tomato",
    "tomorrow", "tonight", "travel", "tuesday", "turtle", "twenty", "umbrella", "uncle", "under",
    "until", "valley", "vegetable", "village", "violin", "visit", "water", "weather", "wednesday",
    "welcome",  "winter", "without", "wonderful", "yellow", "yesterday", "zebra", "zero",
    "okay", "hey", "stop", "play", "pause", "next", "volume", "lights", "music please", "good night",
)  # fmt: skip

#: Clips per class in the shipped set (scale=1).
N_ACTIVATES = 480
N_NEGATIVES = 660
#: Fraction of negatives drawn from HARD_NEGATIVES.
HARD_FRACTION = 0.3
#: Fraction of speakers held out (at least one CMU speaker among them).
HELDOUT_FRACTION = 0.2
#: CMU speakers (flite/festival) are more natural than espeak-ng's formant voices: more clips each.
CMU_WEIGHT = 3.0
SPEED_RANGE = (0.8, 1.3)
PITCH_RANGE = (0.8, 1.25)
#: Stored backgrounds: kinds per split (babble uses the split's own words).
BACKGROUND_KINDS = {
    "train": ("pink", "brown", "hum", "babble", "rain", "traffic"),
    "heldout": ("babble", "white"),
}
CHIME_SECONDS = 0.6


def slug(text: str) -> str:
    """A file-name-safe form of ``text``: letters, digits and '-' only."""
    text = text.replace("!", "-excl").replace("?", "-q")
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-").lower() or "x"


def split_speakers(extra_speakers: Iterable[str] = (), split_seed: int = 0) -> dict[str, str]:
    """``{speaker: "train" | "heldout"}``: about :data:`HELDOUT_FRACTION` of the espeak-ng speakers
    and of the CMU speakers (at least one of each kind) are held out, chosen by ``split_seed``.

    The draw is over every speaker the project knows (installed or not, plus ``extra_speakers``),
    so the split is the same on every machine and for every build seed: a larger training set
    made on demand never holds a speaker the shipped held-out set holds.
    """
    known = {v.speaker for v in tts.all_voices(only_installed=False)} | set(extra_speakers)
    rng = np.random.default_rng([split_seed, 1])
    out = {}
    for prefix in ("espeak:", "cmu:"):
        speakers = sorted(s for s in known if s.startswith(prefix))
        if not speakers:
            continue
        n_held = max(1, round(HELDOUT_FRACTION * len(speakers))) if len(speakers) > 1 else 0
        held = set(rng.permutation(speakers)[:n_held].tolist())
        out.update({s: ("heldout" if s in held else "train") for s in speakers})
    other = sorted(known - set(out))
    out.update(dict.fromkeys(other, "train"))
    return out


def plan_clips(
    voices: list[tts.Voice],
    seed: int,
    *,
    n_activates: int = N_ACTIVATES,
    n_negatives: int = N_NEGATIVES,
    split_seed: int = 0,
) -> list[dict]:
    """What to render: one record per clip (class, voice, speaker, engine, text, speed, pitch, split).

    Clips are spread over speakers (CMU speakers weighted by :data:`CMU_WEIGHT`); within a speaker
    the accent/engine, text, speed and pitch are drawn from ``seed``; the speaker split from
    ``split_seed`` (see :func:`split_speakers`).
    """
    if not voices:
        raise ValueError("no TTS voices to plan with: install espeak-ng, flite or festival")
    rng = np.random.default_rng([seed, 2])
    by_speaker: dict[str, list[tts.Voice]] = {}
    for v in sorted(voices):
        by_speaker.setdefault(v.speaker, []).append(v)
    speakers = sorted(by_speaker)
    weights = np.array([CMU_WEIGHT if s.startswith("cmu:") else 1.0 for s in speakers])
    split = split_speakers({v.speaker for v in voices}, split_seed)

    def spread(n: int) -> np.ndarray:
        # largest-remainder apportionment, ties broken by a seeded permutation
        share = weights / weights.sum() * n
        counts = np.floor(share).astype(int)
        order = np.lexsort((rng.permutation(len(share)), -(share - counts)))
        counts[order[: n - counts.sum()]] += 1
        return counts

    records = []
    for cls, n in (("activate", n_activates), ("negative", n_negatives)):
        for speaker, count in zip(speakers, spread(n)):
            for _ in range(count):
                v = by_speaker[speaker][int(rng.integers(len(by_speaker[speaker])))]
                if cls == "activate":
                    text = TRIGGER_TEXTS[int(rng.integers(len(TRIGGER_TEXTS)))]
                elif rng.random() < HARD_FRACTION:
                    text = HARD_NEGATIVES[int(rng.integers(len(HARD_NEGATIVES)))]
                else:
                    text = ORDINARY_WORDS[int(rng.integers(len(ORDINARY_WORDS)))]
                records.append(
                    {
                        "class": cls,
                        "voice": v.id,
                        "speaker": speaker,
                        "engine": v.engine,
                        "text": text,
                        "speed": round(float(rng.uniform(*SPEED_RANGE)), 2),
                        "pitch": round(float(rng.uniform(*PITCH_RANGE)), 2),
                        "split": split[speaker],
                    }
                )
    return records


def render_records(records: list[dict], *, sample_rate: int = tts.TTS_SAMPLE_RATE) -> list[np.ndarray]:
    """Render planned records (from :func:`plan_clips` or ``index.json``) to float32 clips."""
    requests = [
        tts.Request(
            r["text"],
            tts.Voice(r["engine"], r["voice"].split(":", 1)[1], r["speaker"]),
            r["speed"],
            r["pitch"],
        )
        for r in records
    ]
    return tts.render_many(requests, sample_rate=sample_rate)


def stored_backgrounds(
    seed: int, words_by_split: dict[str, list[np.ndarray]], *, sample_rate: int = tts.TTS_SAMPLE_RATE
):
    """Yield ``(file, kind, split, samples)`` for the backgrounds a build stores.

    ``words_by_split`` holds, per split, the ordinary-word negatives (as stored) that babble is made
    of; a split's babble is skipped when it has none.
    """
    for split, kinds in BACKGROUND_KINDS.items():
        words = words_by_split.get(split, [])
        for k, kind in enumerate(kinds):
            if kind == "babble" and not words:
                continue
            rng = np.random.default_rng([seed, 3, 0 if split == "train" else 1, k])
            x = noise.make_background(kind, rng=rng, sample_rate=sample_rate, words=words)
            yield f"raw/{split}/{CLASS_DIRS['background']}/b{k + 1:02d}_{kind}.wav", kind, split, x


def make_chime(*, sample_rate: int = SAMPLE_RATE, seconds: float = CHIME_SECONDS) -> np.ndarray:
    """A short bell: a few inharmonic partials (ratios of a struck bar) with their own decays."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 880.0
    ratios = np.array([1.0, 2.756, 5.404, 8.933])
    amps = np.array([1.0, 0.5, 0.25, 0.12])
    decays = np.array([0.25, 0.15, 0.08, 0.05])  # seconds to 1/e
    x = (
        amps[:, None] * np.exp(-t[None, :] / decays[:, None]) * np.sin(2 * np.pi * f0 * ratios[:, None] * t)
    ).sum(0)
    attack = np.minimum(1.0, t / 0.003)
    release = np.minimum(1.0, (seconds - t) / 0.05)
    x *= attack * release
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] to int16, rounded and clipped."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def write_pcm16(path: Path, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Write ``x`` as 16-bit mono WAV; returns the float32 samples as stored (after rounding)."""
    pcm = to_pcm16(x)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.wavfile.write(path, sample_rate, pcm)
    return pcm.astype(np.float32) / 32768.0


def _describe(stored: np.ndarray, sample_rate: int) -> dict:
    peak = float(np.abs(stored).max()) if stored.size else 0.0
    return {
        "duration_s": round(len(stored) / sample_rate, 4),
        "dbfs": round(tts.active_dbfs(stored, sample_rate), 2),
        "peak_dbfs": round(20 * math.log10(peak), 2) if peak > 0 else -120.0,
    }


def build_assets(
    out: str | Path,
    seed: int = 0,
    *,
    split_seed: int = 0,
    scale: float = 1.0,
    engines: tuple[str, ...] | None = None,
    voices: list[tts.Voice] | None = None,
    n_activates: int | None = None,
    n_negatives: int | None = None,
    backgrounds: bool = True,
    chime: bool = True,
    sample_rate: int = tts.TTS_SAMPLE_RATE,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Render the assets into ``out``: ``raw/{train,heldout}/{activates,negatives,backgrounds}``,
    ``chime.wav`` and ``index.json``. Returns the index (a dict).

    ``scale`` multiplies the default clip counts; ``n_activates``/``n_negatives`` set them exactly.
    ``voices`` defaults to every installed voice (:func:`twd_lab.tts.all_voices`).
    Existing ``raw/`` wav files in ``out`` are removed first so the folder holds exactly this build.
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    t0 = time.time()
    say = log or (lambda _msg: None)
    out = Path(out)
    n_act = round(N_ACTIVATES * scale) if n_activates is None else int(n_activates)
    n_neg = round(N_NEGATIVES * scale) if n_negatives is None else int(n_negatives)
    voices = tts.all_voices(engines) if voices is None else sorted(voices)
    records = plan_clips(voices, seed, n_activates=n_act, n_negatives=n_neg, split_seed=split_seed)
    say(
        f"rendering {len(records)} clips with {len({r['voice'] for r in records})} voices "
        f"({len({r['speaker'] for r in records})} speakers)"
    )

    raw = out / "raw"
    if raw.is_dir():
        for old in sorted(raw.glob("*/*/*.wav")):
            old.unlink()
    clips = render_records(records, sample_rate=sample_rate)
    counters: Counter = Counter()
    index = []
    words_by_split: dict[str, list[np.ndarray]] = {"train": [], "heldout": []}
    for rec, clip in zip(records, clips):
        counters[rec["class"]] += 1
        name = (
            f"{rec['class'][0]}{counters[rec['class']]:04d}_{slug(rec['voice'])}_{slug(rec['text'])}"
            f"_s{round(rec['speed'] * 100):03d}_p{round(rec['pitch'] * 100):03d}.wav"
        )
        rel = f"raw/{rec['split']}/{CLASS_DIRS[rec['class']]}/{name}"
        stored = write_pcm16(out / rel, clip, sample_rate)
        index.append({"file": rel, **rec, "sample_rate": sample_rate, **_describe(stored, sample_rate)})
        if rec["class"] == "negative" and rec["text"] in ORDINARY_WORDS:
            words_by_split[rec["split"]].append(stored)

    if backgrounds:
        for rel, kind, split, x in stored_backgrounds(seed, words_by_split, sample_rate=sample_rate):
            stored = write_pcm16(out / rel, x, sample_rate)
            index.append(
                {
                    "file": rel, "class": "background", "voice": f"noise:{kind}", "speaker": f"noise:{kind}",
                    "engine": "noise", "text": "", "speed": 1.0, "pitch": 1.0, "split": split,
                    "sample_rate": sample_rate, **_describe(stored, sample_rate),
                }
            )  # fmt: skip
    if chime:
        write_pcm16(out / CHIME_NAME, make_chime(), SAMPLE_RATE)

    data = {
        "version": 1,
        "seed": seed,
        "split_seed": split_seed,
        "scale": scale,
        "sample_rate": sample_rate,
        "engines": {e: tts.engine_versions()[e] for e in sorted({r["engine"] for r in records})},
        "heldout_speakers": sorted({r["speaker"] for r in records if r["split"] == "heldout"}),
        # every voice the plan drew from (not only those drawn): the plan depends on all of them
        "voices": [[v.engine, v.name, v.speaker] for v in voices],
        "clips": index,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX_NAME).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    say(f"wrote {len(index)} clips to {out} in {time.time() - t0:.1f} s")
    return data


def index_voices(index: dict) -> list[tts.Voice]:
    """The voices a build planned with (``index.json``'s ``voices``), to plan the same clips again."""
    return [tts.Voice(e, n, sp) for e, n, sp in index["voices"]]


def summarize(index: dict | list[dict]) -> str:
    """A Markdown table of clips per class and split: count, voices, duration and level ranges."""
    clips = index["clips"] if isinstance(index, dict) else index
    rows = ["| class | split | clips | voices | duration s (min / median / max) | level dBFS (min / median / max) |",
            "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for cls in ("activate", "negative", "background"):
        for split in ("train", "heldout"):
            sel = [c for c in clips if c["class"] == cls and c["split"] == split]
            if not sel:
                continue
            d = np.array([c["duration_s"] for c in sel])
            lv = np.array([c["dbfs"] for c in sel])
            rows.append(
                f"| {cls} | {split} | {len(sel)} | {len({c['voice'] for c in sel})} | "
                f"{d.min():.2f} / {np.median(d):.2f} / {d.max():.2f} | "
                f"{lv.min():.1f} / {np.median(lv):.1f} / {lv.max():.1f} |"
            )
    speakers = {c["speaker"] for c in clips if c["class"] != "background"}
    voices = {c["voice"] for c in clips if c["class"] != "background"}
    rows.append("")
    rows.append(f"{len(voices)} voices from {len(speakers)} speakers; "
                f"held out: {len({c['speaker'] for c in clips if c['split'] == 'heldout' and c['class'] != 'background'})} speakers.")  # fmt: skip
    return "\n".join(rows)
