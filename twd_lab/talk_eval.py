"""Measuring a detector where users meet it: continuous talk, words said inside talk, words in noise.

Every score here comes from one long stream per test, not from separate clips: a detector is heard as
``twd-lab listen`` hears a microphone left on, with no clip edges to hide behind. Scenes (each a list
of ``(audio, word_ends_s)`` segments at 44.1 kHz, played back to back):

* :func:`real_talk_segments`: ``../shared/real_speech/talk`` (real read speech, never trained on), each
  file level-matched as ``twd-lab detect`` would;
* :func:`generated_talk_segments`: hours of :mod:`twd_lab.talk` in held-out voices and held-out texts;
* :func:`spliced_segments`: real "activate" recordings spliced into talk, between sentences and inside
  them, at the talk's level;
* :func:`noisy_word_segments`: "activate" recordings (real ones, or held-out TTS voices) over babble,
  dishes, traffic and music at a given speech-to-noise ratio.

:func:`score_stream` runs either detector over a scene and scores it with
:func:`twd_lab.metrics.event_scores` (a firing within -0.2 ... +1.2 s of a word's end detects it; every
other firing is a false accept, counted per hour of audio without the word). The speech-embedding
detector's embeddings can be cached per scene, so comparing heads costs seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twd_lab.constants import SAMPLE_RATE, TARGET_DBFS
from twd_lab.metrics import EventScores, event_scores
from twd_lab.rng import RngLike, as_generator

#: The real continuous talk beside the repository (measure only).
REAL_TALK_RELATIVE = Path("..") / "shared" / "real_speech" / "talk"
#: Noise kinds of the SNR test: a crowd, a kitchen, a street and a radio.
NOISE_KINDS = ("babble", "dishes", "traffic", "music")
#: Length of one generated segment (s); a scene is many of them back to back.
SEGMENT_S = 60.0

Segment = tuple[np.ndarray, list[float]]


def real_talk_dir() -> Path | None:
    """``../shared/real_speech/talk`` (next to the working directory or the package), or None."""
    from twd_lab.evaluation import real_speech_dir

    coursera = real_speech_dir()
    candidates = [coursera.parent / "talk"] if coursera is not None else []
    candidates += [Path.cwd() / REAL_TALK_RELATIVE, Path(__file__).resolve().parents[1] / REAL_TALK_RELATIVE]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.wav")):
            return path.resolve()
    return None


def real_talk_segments(folder: str | Path) -> list[Segment]:
    """Each WAV of ``folder`` (sorted), level-matched to -20 dBFS as ``twd-lab detect`` hears a file."""
    from twd_lab.detection import preprocess_audio

    files = sorted(Path(folder).glob("*.wav"))
    if not files:
        raise FileNotFoundError(f"no .wav files in {folder}")
    return [(preprocess_audio(str(f)), []) for f in files]


def check_hours(hours: float) -> float:
    """``hours`` of generated talk as a float, if it is in (0, 1000]; else ``ValueError`` naming it."""
    if not 0 < float(hours) <= 1000:
        raise ValueError(f"hours must be in (0, 1000], got {hours!r}")
    return float(hours)


def generated_talk_segments(
    hours: float,
    *,
    seed: int = 0,
    split: str = "heldout",
    segment_s: float = SEGMENT_S,
    progress: bool = False,
):
    """``hours`` of synthetic talk (:func:`twd_lab.talk.talk_clip`) in ``split``'s voices and texts, as
    ``segment_s`` segments, generated lazily (an iterator: an hour is 600 MB at 44.1 kHz).

    Half the segments go through the word augmenter (rooms, EQ, pitch); backgrounds are the split's
    bundled ones and generated noises of every kind, mixed under 60% of the segments. ``hours``, the texts
    and the voices (``fortunes``, the TTS engines) are checked at the call, before any segment is made.
    """
    from twd_lab import talk
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio

    check_hours(hours)
    sentences, voices = talk.talk_sentences(split), talk.talk_voices(split)
    _, _, backgrounds = load_raw_audio(bundled_raw_dir(split), as_arrays=True)
    n = max(1, round(float(hours) * 3600 / segment_s))
    return _talk_segments(n, sentences, voices, backgrounds, seed, split, segment_s, progress)


def _talk_segments(n, sentences, voices, backgrounds, seed, split, segment_s, progress):
    """The segments of :func:`generated_talk_segments`, one at a time."""
    from twd_lab import noise, talk
    from twd_lab.augment import WordAugmenter

    items = range(n)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=f"{split} talk", unit="min" if segment_s == 60 else "segment")
    for i in items:
        rng = np.random.default_rng([seed, i])
        kinds = [k for k in noise.KINDS if k != "babble"]
        bg = list(backgrounds) + [
            noise.make_background(
                kinds[int(rng.integers(len(kinds)))], rng=rng, duration_s=segment_s, sample_rate=SAMPLE_RATE
            )
        ]
        clip = talk.talk_clip(
            sentences,
            voices,
            rng=rng,
            duration_s=segment_s,
            backgrounds=bg,
            augment=WordAugmenter() if rng.random() < 0.5 else None,
        )
        yield clip.audio, []


def clean_talk_clips(n: int, *, split: str = "heldout", seed: int = 0) -> list[np.ndarray]:
    """``n`` 10 s clips of one synthetic talker (no background, 44.1 kHz) in ``split``'s voices and texts:
    the talkers of a generated crowd for :func:`noisy_word_segments` (``babble_talk``)."""
    from twd_lab import talk

    sentences, voices = talk.talk_sentences(split), talk.talk_voices(split)
    return [
        talk.talk_clip(
            sentences, voices, rng=np.random.default_rng([seed, i]), mode="monologue", background_p=0.0
        ).audio
        for i in range(int(n))
    ]


def _level(x: np.ndarray) -> np.ndarray:
    from twd_lab.audio import match_target_amplitude

    return match_target_amplitude(np.asarray(x, np.float32), TARGET_DBFS)


def spliced_segments(
    talk_segments: Sequence[Segment],
    activates: Sequence[np.ndarray],
    *,
    every_s: float = 20.0,
    rng: RngLike = 0,
) -> list[Segment]:
    """``talk_segments`` with real ``activates`` (44.1 kHz) spliced in about every ``every_s`` seconds, at
    the talk's level (-20 dBFS): half between two segments (a pause between sentences), half inside one
    (talk right before and after the word), with 0.05-0.4 s of silence around the word."""
    rng = as_generator(rng)
    if not len(activates):
        raise ValueError("activates must hold at least one clip")
    out: list[Segment] = []
    since = float(rng.uniform(0, every_s))
    for audio, ends in talk_segments:
        if ends:
            raise ValueError("talk_segments must hold no words yet")
        since += len(audio) / SAMPLE_RATE
        if since < every_s:
            out.append((audio, []))
            continue
        since = 0.0
        word = _level(activates[int(rng.integers(len(activates)))])
        gap = [np.zeros(int(rng.uniform(0.05, 0.4) * SAMPLE_RATE), np.float32) for _ in range(2)]
        cut = len(audio) if rng.random() < 0.5 else int(rng.uniform(0.2, 0.8) * len(audio))
        spliced = np.concatenate([audio[:cut], gap[0], word, gap[1], audio[cut:]])
        out.append((spliced, [(cut + gap[0].size + word.size) / SAMPLE_RATE]))
    return out


def noisy_word_segments(
    activates: Sequence[np.ndarray],
    negatives: Sequence[np.ndarray],
    snr_db: float,
    *,
    n: int = 20,
    kinds: Sequence[str] = NOISE_KINDS,
    babble_talk: Sequence[np.ndarray] = (),
    n_activates: tuple[int, int] = (1, 2),
    n_negatives: tuple[int, int] = (0, 1),
    rng: RngLike = 0,
) -> list[Segment]:
    """``n`` 10 s segments per noise kind: ``n_activates`` (a range, inclusive) ``activates`` and
    ``n_negatives`` ``negatives`` (44.1 kHz) placed as the lab places them, over noise ``snr_db`` below
    the words' own level (RMS over the words), then level-matched as ``twd-lab detect`` hears a file.
    ``babble`` is 4-8 overlapping talkers cut from ``babble_talk`` clips when given, else made by
    :func:`twd_lab.noise.babble` from ``negatives``. ``n_activates=(0, 0)`` gives other words in noise
    and no "activate": a false-accept test."""
    lows, highs = (n_activates[0], n_negatives[0]), (n_activates[1], n_negatives[1])
    if min(lows) < 0 or sum(lows) < 1 or any(lo > hi for lo, hi in zip(lows, highs)):
        raise ValueError(
            "n_activates and n_negatives must be (low, high) counts that say at least one word a clip, "
            f"got {tuple(n_activates)} and {tuple(n_negatives)}"
        )
    from twd_lab.constants import CLIP_SAMPLES
    from twd_lab.synthesis import synthesize_example

    rng = as_generator(rng)
    out: list[Segment] = []
    for kind in kinds:
        for _ in range(int(n)):
            ex = synthesize_example(
                np.zeros(CLIP_SAMPLES, np.float32),
                activates,
                negatives,
                rng=rng,
                n_activates=int(rng.integers(n_activates[0], n_activates[1] + 1)),
                n_negatives=int(rng.integers(n_negatives[0], n_negatives[1] + 1)),
            )
            ends = sorted(end / 1000.0 for _, end in ex.activate_segments)
            out.append((_under_noise(ex.audio, kind, snr_db, babble_talk, negatives, rng), ends))
    return out


def noisy_talk_segments(
    talk_clips: Sequence[np.ndarray],
    snr_db: float,
    *,
    kinds: Sequence[str] = NOISE_KINDS,
    babble_talk: Sequence[np.ndarray] = (),
    negatives: Sequence[np.ndarray] = (),
    rng: RngLike = 0,
) -> list[Segment]:
    """Talk in a noisy room: each of ``talk_clips`` (one talker, 44.1 kHz) over noise of one of ``kinds``
    ``snr_db`` below the talk's own level, ``len(talk_clips) // len(kinds)`` clips a kind, level-matched as
    ``twd-lab detect`` hears a file. The noises are :func:`noisy_word_segments`'s (babble: 4-8 talkers
    cut from ``babble_talk``, else made from ``negatives``). No word is said: a false-accept test."""
    kinds = tuple(kinds)
    if not kinds:
        raise ValueError("kinds must name at least one noise kind, got none")
    per_kind = len(talk_clips) // len(kinds)
    if per_kind < 1:
        raise ValueError(
            f"talk_clips must hold at least one clip per kind ({len(kinds)}), got {len(talk_clips)}"
        )
    rng = as_generator(rng)
    clips = iter(talk_clips)
    return [
        (_under_noise(np.asarray(next(clips), np.float32), kind, snr_db, babble_talk, negatives, rng), [])
        for kind in kinds
        for _ in range(per_kind)
    ]


def noise_for(
    voice: np.ndarray,
    kind: str,
    snr_db: float,
    *,
    babble_talk: Sequence[np.ndarray] = (),
    negatives: Sequence[np.ndarray] = (),
    rng: RngLike = None,
) -> np.ndarray:
    """Noise of ``kind`` as long as ``voice`` (44.1 kHz), ``snr_db`` below the level of its voiced
    samples: babble is 4-8 talkers cut from ``babble_talk`` when given, every other kind (and babble
    without talk) :func:`twd_lab.noise.make_background` (babble then made from ``negatives``)."""
    from twd_lab import noise
    from twd_lab.augment import rms_db

    rng = as_generator(rng)
    voiced = voice[np.abs(voice) > 1e-6]
    if not voiced.size:
        raise ValueError("voice must hold some sound to set the noise below, got silence")
    if kind == "babble" and len(babble_talk):
        bg = _talk_babble(babble_talk, voice.size, rng)
    else:
        bg = noise.make_background(
            kind, rng=rng, duration_s=voice.size / SAMPLE_RATE, sample_rate=SAMPLE_RATE, words=negatives
        )
    return bg * np.float32(10 ** ((rms_db(voiced) - snr_db - rms_db(bg)) / 20))


def _under_noise(voice: np.ndarray, kind: str, snr_db: float, babble_talk, negatives, rng) -> np.ndarray:
    """``voice`` with noise of ``kind`` ``snr_db`` below its voiced samples' level, level-matched."""
    return _level(
        voice + noise_for(voice, kind, snr_db, babble_talk=babble_talk, negatives=negatives, rng=rng)
    )


def _talk_babble(talk: Sequence[np.ndarray], n: int, rng) -> np.ndarray:
    """A crowd as :func:`twd_lab.talk.crowd_clip` makes one: 4-8 talkers at once at -6..0 dB, each a run
    of random ``talk`` clips from a random point."""
    from twd_lab.talk import CROWD_GAIN_DB, CROWD_TALKERS

    out = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(CROWD_TALKERS[0], CROWD_TALKERS[1] + 1))):
        clip = np.concatenate([talk[int(i)] for i in rng.integers(len(talk), size=3)])
        start = int(rng.integers(0, max(1, clip.size - n)))
        piece = np.resize(clip[start : start + n], n)
        out += np.float32(10 ** (rng.uniform(*CROWD_GAIN_DB) / 20)) * piece
    return out


# --- scoring -------------------------------------------------------------------------------------


class EmbeddingCache:
    """A scene's speech embeddings, so each head is scored without embedding the audio again.

    ``emb`` (n_steps, 96): every segment's embeddings back to back; ``seg_steps``, ``seg_s`` and
    ``ends`` per segment. :meth:`build` embeds a scene; :meth:`load` / :meth:`save` keep it as ``.npz``.
    """

    def __init__(self, emb, seg_steps, seg_s, ends):
        self.emb = np.asarray(emb, np.float32)
        self.seg_steps = np.asarray(seg_steps, np.int64)
        self.seg_s = np.asarray(seg_s, np.float64)
        self.ends = [list(e) for e in ends]

    @classmethod
    def build(cls, segments, front_end=None) -> EmbeddingCache:
        """Embed ``segments`` (``(audio, word ends)`` pairs) through ``front_end`` (None: as shipped)."""
        from twd_lab.detectors.speech_embedding import embeddings

        embs, steps, secs, ends = [], [], [], []
        for audio, e in segments:
            emb = embeddings(audio, SAMPLE_RATE, front_end=front_end)[0]
            embs.append(emb)
            steps.append(len(emb))
            secs.append(len(audio) / SAMPLE_RATE)
            ends.append(e)
        return cls(np.concatenate(embs), steps, secs, ends)

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, emb=self.emb, seg_steps=self.seg_steps, seg_s=self.seg_s, ends=json.dumps(self.ends))

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingCache:
        with np.load(path) as f:
            return cls(f["emb"], f["seg_steps"], f["seg_s"], json.loads(str(f["ends"])))

    @property
    def duration_s(self) -> float:
        return float(self.seg_s.sum())

    def parts(self, n: int) -> list[EmbeddingCache]:
        """The scene cut into ``n`` caches of equal numbers of segments, in order: a noisy scene's
        noise kinds (:func:`noisy_word_segments` makes the same number of segments of each kind, one
        kind after another)."""
        segments = len(self.seg_steps)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 or segments % n:
            raise ValueError(f"n must be a positive int that divides the {segments} segments, got {n!r}")
        per, bounds = segments // n, np.concatenate([[0], np.cumsum(self.seg_steps)])
        return [
            EmbeddingCache(
                self.emb[bounds[i * per] : bounds[(i + 1) * per]],
                self.seg_steps[i * per : (i + 1) * per],
                self.seg_s[i * per : (i + 1) * per],
                self.ends[i * per : (i + 1) * per],
            )
            for i in range(n)
        ]

    def step_times_s(self) -> np.ndarray:
        """When each step ends (s from the scene's start): each segment's own step times, offset."""
        from twd_lab.detectors.speech_embedding import step_times

        offsets = np.concatenate([[0.0], np.cumsum(self.seg_s)[:-1]])
        return np.concatenate([o + step_times(int(k)) for o, k in zip(offsets, self.seg_steps)])

    def word_ends_s(self) -> np.ndarray:
        offsets = np.concatenate([[0.0], np.cumsum(self.seg_s)[:-1]])
        return np.array(sorted(o + e for o, ends in zip(offsets, self.ends) for e in ends), np.float64)


def front_end_tag(front_end) -> str:
    """What a cache's name gains for a tuned front end: ``""`` for the embedding as shipped, else
    ``"_fe"`` and 8 hex digits of its weights' file, so embeddings of two front ends never mix."""
    if front_end is None:
        return ""
    import hashlib

    return "_fe" + hashlib.sha1(Path(front_end).read_bytes()).hexdigest()[:8]


def cached_embeddings(path: str | Path | None, make_segments, front_end=None) -> EmbeddingCache:
    """:class:`EmbeddingCache` of ``make_segments()`` through ``front_end``, read from ``path`` when it is
    there, else built and written to it (``path=None``: never cached). Name the path with
    :func:`front_end_tag` when a front end is given."""
    if path is not None and Path(path).is_file():
        return EmbeddingCache.load(path)
    cache = EmbeddingCache.build(make_segments(), front_end)
    if path is not None:
        cache.save(path)
    return cache


def score_embeddings(detector, cache: EmbeddingCache, threshold: float | None = None) -> EventScores:
    """The speech-embedding ``detector`` over a cached scene as one continuous stream (its history runs
    on across segments), fired by its own rule at ``threshold`` (default: its own), and scored."""
    from twd_lab.embedding_detector import history_windows

    probs = detector.predict(history_windows(cache.emb, detector.config.history))
    steps = detector.trigger_steps(probs, threshold)
    return event_scores(cache.word_ends_s(), cache.step_times_s()[steps], cache.duration_s)


def score_stream_thresholds(
    detector,
    segments,
    thresholds: Sequence[float],
    *,
    patience: int | None = None,
    refractory: int | None = None,
) -> dict[float, EventScores]:
    """Either detector over ``segments`` (``(audio, word_ends_s)``, played back to back), each segment
    heard as a file and its firings and words placed on one time line, fired by the detector's own rule
    at each of ``thresholds`` (``patience`` and ``refractory``, in its own steps, override its own), and
    scored with :func:`event_scores`: ``{threshold: EventScores}``. The audio is heard once, whatever the
    number of thresholds."""
    from twd_lab.detectors.files import as_detector

    detector = as_detector(detector)
    rules = {
        float(th): detector.rule.with_overrides(threshold=th, patience=patience, refractory=refractory)
        for th in thresholds
    }
    offset, ends = 0.0, []
    fires: dict[float, list[float]] = {th: [] for th in rules}
    for audio, e in segments:
        probs, times = detector.hear(audio)
        for th, rule in rules.items():
            fires[th] += [offset + t.time_s for t in rule.fire(probs, times)]
        ends += [offset + x for x in e]
        offset += len(audio) / SAMPLE_RATE
    return {th: event_scores(sorted(ends), sorted(f), offset) for th, f in fires.items()}


def score_stream(
    detector, segments, *, threshold: float | None = None, patience: int | None = None
) -> EventScores:
    """:func:`score_stream_thresholds` at one threshold (default: the detector's own)."""
    from twd_lab.detectors.files import as_detector

    detector = as_detector(detector)
    threshold = detector.rule.threshold if threshold is None else float(threshold)
    return score_stream_thresholds(detector, segments, [threshold], patience=patience)[threshold]


def talk_report(detector, segments, *, rule=None, source: str = "talk:heldout") -> dict:
    """False accepts (and any words) of any detector on talk ``segments`` (``(audio, word_ends_s)``, e.g.
    :func:`generated_talk_segments`: held-out voices and texts, no trigger word), heard back to back by its
    own rule (``rule`` to override) and scored by :func:`score_stream_thresholds`, as a JSON-ready dict:
    ``detector``, ``source``, ``hours``, ``threshold``, ``patience``, ``refractory``, ``step_s`` and the
    event scores (``false_accepts``, ``false_accepts_per_hour``, ``duration_s``, ...). What
    ``twd-lab evaluate --talk-hours`` adds."""
    from twd_lab.detectors.files import as_detector

    detector = as_detector(detector)
    rule = rule or detector.rule
    scores = score_stream_thresholds(
        detector, segments, [rule.threshold], patience=rule.patience, refractory=rule.refractory
    )[rule.threshold]
    return {
        "detector": detector.kind,
        "source": source,
        "hours": scores.duration_s / 3600,
        "threshold": rule.threshold,
        "patience": rule.patience,
        "refractory": rule.refractory,
        "step_s": detector.step_s,
        **scores.as_dict(),
    }
