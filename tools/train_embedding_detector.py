"""Train the speech-embedding detector's head on the bundled TRAIN voices, and save it.

    python tools/train_embedding_detector.py --out runs/heads/mine.keras

(the shipped head's own options are the ``command`` in ``assets/embedding_head.json``; an existing
``--out`` is replaced only with ``--overwrite``)

Synthesizes lab-style 10 s clips from ``assets/raw/train`` (half with word and background augmentation,
half plain at the lab's levels), turns them into speech embeddings once (cached as .npz in ``--cache``, so
levers can be tried without recomputing them), fits ``--members`` heads and averages them, with one round
of hard-negative mining on negative-only clips (:func:`twd_lab.embedding_detector.fit_heads`).
Needs ``pip install "twd-lab[embedding]"``. Never point ``--raw`` at the real recordings you measure on.

With ``--front-end W.front.npz`` (the weights a tuned or distilled front end keeps beside its head,
``tools/distill_front_end.py``) the clips are embedded through those weights, cached apart, and the
new head is saved with them: a head fitted on the features it will hear.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder: tool_command

import numpy as np
from tool_command import command_line

from twd_lab import embedding_detector as D
from twd_lab.audio import load_raw_audio


def raw_key(raw_dir: Path) -> str:
    """A short key of a raw folder's files (names and sizes), so a cache never mixes two asset sets."""
    files = sorted(p for p in Path(raw_dir).rglob("*.wav"))
    listing = "\n".join(f"{p.relative_to(raw_dir)} {p.stat().st_size}" for p in files)
    return hashlib.sha1(listing.encode()).hexdigest()[:10]


def cached(cache: Path | None, name: str, tag: str, make):
    """``make()`` (an :class:`D.EmbeddedClips`), kept in ``cache`` under ``name`` so levers can be tried
    without embedding the same clips again."""
    path = None if cache is None else cache / f"{name}.npz"
    if path is not None and path.is_file():
        return D.EmbeddedClips.load(path)
    t = time.time()
    clips = make()
    print(f"{tag}: {len(clips.emb)} clips embedded in {time.time() - t:.0f} s", file=sys.stderr)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        clips.save(path)
    return clips


def cached_clips(
    raw,
    n: int,
    seed: int,
    *,
    augment: bool,
    n_activates,
    cache: Path | None,
    tag: str,
    key: str,
    features=None,
):
    """:func:`D.embedded_examples`, kept in ``cache`` under a name that records its settings;
    ``features`` as there."""
    if n <= 0:
        return None
    return cached(
        cache,
        f"{key}_{tag}_n{n}_seed{seed}_aug{int(augment)}",
        tag,
        lambda: D.embedded_examples(
            raw, n, rng=seed, augment=augment, n_activates=n_activates, progress=True, features=features
        ),
    )


def cached_noisy(args, raw, crowd, n: int, seed: int, *, tag: str, n_activates, key: str, features=None):
    """:func:`D.embedded_noisy_examples` as ``args`` set it up (``--noisy-crowd``, ``--noisy-diffuse``; ``crowd``:
    the TRAIN talk), cached under a name that records its settings; None when ``n`` is 0."""
    if n <= 0:
        return None
    diffuse = f"_diffuse{args.noisy_diffuse:g}" if args.noisy_diffuse else ""
    return cached(
        args.cache,
        f"{key}_{tag}_n{n}_seed{seed}_crowd{args.noisy_crowd:g}{diffuse}",
        tag,
        lambda: D.embedded_noisy_examples(
            raw,
            n,
            rng=seed,
            talk=crowd,
            p_talk=args.noisy_crowd,
            p_diffuse=args.noisy_diffuse,
            n_activates=n_activates,
            progress=True,
            features=features,
        ),
    )


#: Talk clips are embedded and cached this many at a time, so an interrupted run keeps what it made.
TALK_CHUNK = 100


def cached_talk(
    raw, n: int, seed: int, *, max_activates: int, cache: Path | None, tag: str, key: str, features=None
):
    """:func:`D.embedded_talk` in the TRAIN voices and texts (:mod:`twd_lab.talk`), cached in chunks of
    :data:`TALK_CHUNK` clips (chunk ``i`` drawn from the seed ``[seed, i]``); ``features`` as there."""
    if n <= 0:
        return None
    from twd_lab import talk

    acts, _, bgs = raw
    sentences, voices = talk.talk_sentences("train"), talk.talk_voices("train")
    # the cache names what was said and by whom, so new texts or voices never reuse old embeddings
    said = hashlib.sha1("\n".join(sentences + [v.id for v in voices]).encode()).hexdigest()[:8]
    total = None
    for i, start in enumerate(range(0, n, TALK_CHUNK)):
        size = min(TALK_CHUNK, n - start)
        part = cached(
            cache,
            f"{key}_{tag}{said}_seed{seed}_w{max_activates}_chunk{i}_n{size}",
            f"{tag} {start + size}/{n}",
            lambda size=size, i=i: D.embedded_talk(
                sentences,
                voices,
                size,
                rng=np.random.default_rng([seed, i]),
                backgrounds=bgs,
                activates=acts,
                max_activates=max_activates,
                features=features,
            ),
        )
        total = part if total is None else total + part
    return total


def with_confusables(raw, n: int, seed: int):
    """``raw`` with ``n`` clips of words and word pairs that sound like "activate" added to its negatives
    (:mod:`twd_lab.confusables`, said by the TRAIN voices)."""
    from twd_lab import confusables, talk

    phrases = [
        p
        for p, _ in confusables.confusable_phrases(
            confusables.vocabulary(talk.talk_sentences("train")), max_distance=3
        )
    ]
    acts, negs, bgs = raw
    extra = confusables.render_phrases(phrases, talk.talk_voices("train"), n, rng=seed + 7)
    print(
        f"confusables: {len(extra)} clips of {len(phrases)} phrases added to the negatives", file=sys.stderr
    )
    return (acts, list(negs) + extra, bgs)


def front_end_features(weights: Path, ap: argparse.ArgumentParser):
    """``features(audio)`` for the clip generators: a 44.1 kHz clip's embeddings through ``weights``
    (``(steps, 96)``), or an argument error naming ``--front-end`` when they cannot be used."""
    from twd_lab.constants import SAMPLE_RATE
    from twd_lab.detectors.speech_embedding import embeddings

    if weights.suffix != ".npz":
        ap.error(f"--front-end must be a .npz of top weights (a head's .front.npz), got {weights.name!r}")
    try:  # the weights are checked here, before any clip is made
        embeddings(np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE, front_end=weights)
    except (FileNotFoundError, ValueError) as err:
        ap.error(f"--front-end: {err}")
    return lambda audio: embeddings(audio, SAMPLE_RATE, front_end=weights)[0]


def add_clip_arguments(ap: argparse.ArgumentParser, **defaults) -> None:
    """The options that say which training clips to make and how many (shared with
    ``tools/tune_front_end.py``); ``defaults`` overrides this tool's defaults by option name."""
    d = {
        "augmented": 800,
        "plain": 400,
        "hard_negatives": 200,
        "confusables": 0,
        "noisy": 0,
        "noisy_crowd": 0.5,
        "noisy_diffuse": 0.0,
        "noisy_mining": 0,
        "talk": 0,
        "talk_words": 0,
        "talk_mining": 0,
        **defaults,
    }
    ap.add_argument(
        "--raw", type=Path, default=None, help="lab-style training folder (default: bundled train)"
    )
    ap.add_argument("--augmented", type=int, default=d["augmented"], help="10 s clips with augmentation")
    ap.add_argument("--plain", type=int, default=d["plain"], help="10 s clips without augmentation")
    ap.add_argument(
        "--hard-negatives", type=int, default=d["hard_negatives"], help="negative-only clips to mine (0: off)"
    )
    ap.add_argument(
        "--confusables",
        type=int,
        default=d["confusables"],
        help="clips of words and word pairs that sound like 'activate' (twd_lab.confusables), as negatives",
    )
    ap.add_argument(
        "--noisy",
        type=int,
        default=d["noisy"],
        help="10 s clips with words over loud generated noise (0-20 dB SNR)",
    )
    ap.add_argument(
        "--noisy-crowd",
        type=float,
        default=d["noisy_crowd"],
        help="share of --noisy clips over a crowd of talkers (%(default)s)",
    )
    ap.add_argument(
        "--noisy-diffuse",
        type=float,
        default=d["noisy_diffuse"],
        help="share of those crowds that are a din of 4-8 equal talkers, not one talker over others (%(default)s)",
    )
    ap.add_argument(
        "--noisy-mining",
        type=int,
        default=d["noisy_mining"],
        help="10 s clips of other words over loud noise or a crowd, without the word, mined for hard negatives",
    )
    ap.add_argument("--talk", type=int, default=d["talk"], help="10 s clips of synthetic talk, as negatives")
    ap.add_argument(
        "--talk-words",
        type=int,
        default=d["talk_words"],
        help="10 s clips of talk with 0-2 activates said inside it",
    )
    ap.add_argument(
        "--talk-mining",
        type=int,
        default=d["talk_mining"],
        help="talk clips mined for hard negatives (with --hard-negatives)",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(ap)
    ap.add_argument(
        "--partial-words",
        type=int,
        default=0,
        help="starts of activates ('activ-') added to the negatives, so the head waits for the whole word",
    )
    ap.add_argument("--mining-rounds", type=int, default=1, help="rounds of hard-negative mining")
    ap.add_argument("--members", type=int, default=3, help="heads trained with different seeds, averaged")
    ap.add_argument("--history", type=int, default=D.HISTORY)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--input-dropout", type=float, default=0.3, help="dropout on the embeddings themselves")
    ap.add_argument("--positive-s", type=float, nargs=2, default=D.POSITIVE_S, help="positive span (s)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threshold", type=float, default=D.THRESHOLD, help="threshold saved with the head")
    ap.add_argument("--patience", type=int, default=D.PATIENCE, help="patience saved with the head")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/embedding_cache"), help="embeddings cache")
    ap.add_argument(
        "--front-end",
        type=Path,
        default=None,
        help="embed through these top weights (a head's .front.npz) and save the head with them "
        "(default: the embedding as shipped)",
    )
    ap.add_argument("--out", type=Path, required=True, help="the head (.keras; its .json goes beside it)")
    ap.add_argument("--overwrite", action="store_true", help="replace --out if it is there")
    args = ap.parse_args(argv)
    if args.out.suffix != ".keras":
        ap.error(f"--out must end in .keras, got {args.out.name!r}")
    if args.out.exists() and not args.overwrite:  # before the work, not after it
        ap.error(f"--out {args.out} is there already; pass --overwrite to replace it")
    features = None
    if args.front_end is not None:
        features = front_end_features(args.front_end, ap)

    trained_on = str(args.raw)
    if args.raw is None:
        from twd_lab.assets_index import bundled_raw_dir

        args.raw, trained_on = bundled_raw_dir("train"), "bundled:train (assets/raw/train)"
    raw = load_raw_audio(args.raw, as_arrays=True)
    key = talk_key = raw_key(args.raw)  # talk says only activates over backgrounds: not keyed on negatives
    if args.front_end is not None:  # embeddings of two front ends never share a cache file
        from twd_lab.talk_eval import front_end_tag

        key, talk_key = key + front_end_tag(args.front_end), talk_key + front_end_tag(args.front_end)
    if args.partial_words:
        from twd_lab.synthesis import partial_words

        acts, negs, bgs = raw
        raw = (acts, list(negs) + partial_words(acts, args.partial_words, rng=args.seed + 3), bgs)
        key += f"_pw{args.partial_words}"
    if args.confusables:
        raw = with_confusables(raw, args.confusables, args.seed)
        key += f"_cf{args.confusables}"
    common = {"cache": args.cache, "key": key, "features": features}
    talk_common = {"cache": args.cache, "key": talk_key, "features": features}
    parts = [
        cached_clips(raw, args.augmented, args.seed, augment=True, n_activates=None, tag="aug", **common),
        cached_clips(raw, args.plain, args.seed + 1, augment=False, n_activates=None, tag="plain", **common),
    ]
    crowd = None
    if args.noisy > 0 or args.noisy_mining > 0:
        from twd_lab import talk

        crowd = (talk.talk_sentences("train"), talk.talk_voices("train"))

    def noisy(n: int, seed: int, tag: str, n_activates):
        return cached_noisy(
            args, raw, crowd, n, seed, tag=tag, n_activates=n_activates, key=key, features=features
        )

    parts.append(noisy(args.noisy, args.seed + 8, "noisy", None))
    parts += [
        cached_talk(raw, args.talk, args.seed + 4, max_activates=0, tag="talk", **talk_common),
        cached_talk(raw, args.talk_words, args.seed + 5, max_activates=2, tag="talkw", **talk_common),
    ]
    parts = [p for p in parts if p is not None]
    if not parts:
        ap.error("--augmented and --plain are both 0: nothing to train on")
    clips = parts[0]
    for part in parts[1:]:
        clips = clips + part
    pools = [
        cached_clips(
            raw, args.hard_negatives, args.seed + 2, augment=True, n_activates=0, tag="neg", **common
        ),
        cached_talk(raw, args.talk_mining, args.seed + 6, max_activates=0, tag="talkmine", **talk_common),
        noisy(args.noisy_mining, args.seed + 9, "noisymine", 0),
    ]
    pools = [p for p in pools if p is not None]
    negatives = None
    for pool in pools:
        negatives = pool if negatives is None else negatives + pool
    t = time.time()
    model, info = D.fit_heads(
        clips,
        negatives,
        members=args.members,
        history=args.history,
        units=args.units,
        layers=args.layers,
        dropout=args.dropout,
        input_dropout=args.input_dropout,
        positive_s=tuple(args.positive_s),
        epochs=args.epochs,
        mining_rounds=args.mining_rounds,
        seed=args.seed,
        verbose=2,
    )
    notes = {
        "trained_on": trained_on,
        "raw_key": common["key"],
        "augmented_clips": args.augmented,
        "plain_clips": args.plain,
        "hard_negative_clips": args.hard_negatives,
        "partial_words": args.partial_words,
        "confusable_clips": args.confusables,
        "noisy_clips": args.noisy,
        "noisy_crowd_share": args.noisy_crowd,
        "noisy_diffuse_share": args.noisy_diffuse,
        "noisy_mining_clips": args.noisy_mining,
        "talk_clips": args.talk,
        "talk_word_clips": args.talk_words,
        "talk_mining_clips": args.talk_mining,
        "mining_rounds": args.mining_rounds,
        **info,
        "members": args.members,
        "units": args.units,
        "layers": args.layers,
        "dropout": args.dropout,
        "input_dropout": args.input_dropout,
        "positive_s": list(args.positive_s),
        "epochs": args.epochs,
        "seed": args.seed,
        "train_seconds": round(time.time() - t, 1),
        "front_end": None if args.front_end is None else str(args.front_end),
        "command": command_line(__file__, argv),
    }
    config = D.DetectorConfig(
        history=args.history, threshold=args.threshold, patience=args.patience, notes=notes
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    D.EmbeddingDetector(model, config, front_end=args.front_end).save(args.out)
    print(f"saved {args.out} and {args.out.with_suffix('.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
