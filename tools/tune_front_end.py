"""Tune the speech embedding's top layers together with a head, on the bundled TRAIN voices; save both.

    python tools/tune_front_end.py --head runs/heads/frozen.keras --out assets/embedding_head.keras

Starts from a head trained on the embedding as shipped (``tools/train_embedding_detector.py``; or from a
tuned head, whose front end it then goes on from), makes the training clips again with the same draws
as that tool (words over the lab's backgrounds, words and other words over loud noise and crowds,
synthetic talk), keeps each as mel frames (cached in ``--cache``), runs the embedding's frozen lower
stages once, and trains its top stage and the head together (:func:`twd_lab.front_end_tuning.tune`).
Writes the head (``--out``, with its ``.json`` and NumPy copy) and the tuned weights beside it
(``<name>.front.npz``), which the head's settings name. ~35 min on 2 CPU cores with the defaults, most of
it making the clips. Needs ``pip install "twd-lab[embedding]"``. Never point ``--raw`` at the real
recordings you measure on.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tool_command import command_line
from train_embedding_detector import (
    add_clip_arguments,
    cached_clips,
    cached_noisy,
    cached_talk,
    raw_key,
    with_confusables,
)

from twd_lab import embedding_detector as D
from twd_lab.audio import load_raw_audio

#: Noisy clips are made (and cached) this many at a time, chunk ``i`` from the seed ``seed + 10 i``.
NOISY_CHUNK = 1200


def clip_sets(args, raw, key: str, talk_key: str) -> list:
    """Every training set as ``(D.EmbeddedClips of mel frames, whether it is loud noise)``, cached under
    ``args.cache``."""
    from twd_lab import talk

    mels = D.clip_mel_frames
    crowd = (talk.talk_sentences("train"), talk.talk_voices("train"))
    seed = args.seed

    def plain(n, s, tag, augment, n_activates):
        common = {"cache": args.cache, "tag": tag, "key": key, "features": mels}
        return cached_clips(raw, n, s, augment=augment, n_activates=n_activates, **common)

    def noisy(n, s, tag, n_activates):
        # in chunks, chunk i from the seed s + 10 i, so that more clips add to the cache
        sizes = [
            (min(NOISY_CHUNK, n - start), s + 10 * i) for i, start in enumerate(range(0, n, NOISY_CHUNK))
        ]
        common = {"tag": tag, "n_activates": n_activates, "key": key, "features": mels}
        return [cached_noisy(args, raw, crowd, size, s_i, **common) for size, s_i in sizes]

    def talk_clips(n, s, tag, max_activates):
        common = {"cache": args.cache, "key": talk_key, "features": mels}
        return cached_talk(raw, n, s, max_activates=max_activates, tag=tag, **common)

    sets = [
        (plain(args.augmented, seed, "aug", True, None), False),
        (plain(args.plain, seed + 1, "plain", False, None), False),
        (plain(args.hard_negatives, seed + 2, "neg", True, 0), False),
        *((part, True) for part in noisy(args.noisy, seed + 8, "noisy", None)),
        *((part, True) for part in noisy(args.noisy_mining, seed + 9, "noisymine", 0)),
        (talk_clips(args.talk, seed + 4, "talk", 0), False),
        (talk_clips(args.talk_words, seed + 5, "talkw", 2), False),
        (talk_clips(args.talk_mining, seed + 6, "talkmine", 0), False),
    ]
    return [(s, loud) for s, loud in sets if s is not None and len(s.word_ends_s)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--head", type=Path, required=True, help="the head to start from (.keras)")
    # the clips: the shipped head's recipe, with four times its words in noise (help strings say "mined":
    # here every clip is trained on, its hard negatives weighed more)
    add_clip_arguments(
        ap,
        confusables=300,
        noisy=2400,
        noisy_mining=2400,
        noisy_crowd=0.6,
        noisy_diffuse=0.5,
        talk=1000,
        talk_words=400,
        talk_mining=1500,
    )
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=1, help="rounds of hard negatives found again (<= epochs)")
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--freeze-head", action="store_true", help="tune the top only; the head stays as it came")
    ap.add_argument(
        "--keep-quiet",
        type=float,
        default=0.0,
        help="weight of keeping the embeddings of the clips that are not in loud noise as they were (0: off)",
    )
    ap.add_argument("--batch-size", type=int, default=16, help="clips a batch")
    ap.add_argument(
        "--threshold", type=float, default=None, help="threshold saved (default: the start head's)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/front_end_cache"), help="mel frames cache")
    ap.add_argument("--out", type=Path, required=True, help="the head (.keras; .json and .front.npz beside)")
    args = ap.parse_args(argv)
    if args.out.suffix != ".keras":
        ap.error(f"--out must end in .keras, got {args.out.name!r}")
    if args.out.resolve() == args.head.resolve():
        ap.error(f"--out {args.out} is the head it starts from; write the tuned one elsewhere")

    from twd_lab import front_end_tuning as F

    start = D.EmbeddingDetector.load(args.head)
    trained_on = str(args.raw)
    if args.raw is None:
        from twd_lab.assets_index import bundled_raw_dir

        args.raw, trained_on = bundled_raw_dir("train"), "bundled:train (assets/raw/train)"
    raw = load_raw_audio(args.raw, as_arrays=True)
    key = talk_key = raw_key(args.raw)
    if args.confusables:
        raw = with_confusables(raw, args.confusables, args.seed)
        key += f"_cf{args.confusables}"
    t = time.time()
    sets = clip_sets(args, raw, key, talk_key)
    frames = np.concatenate([s.emb for s, _ in sets])
    ends = [e for s, _ in sets for e in s.word_ends_s]
    quiet = np.concatenate([np.full(len(s.word_ends_s), not loud) for s, loud in sets])
    print(f"{len(frames)} clips of mel frames ready in {time.time() - t:.0f} s", file=sys.stderr)

    t = time.time()
    below_of = F.FrozenStages()
    below = np.stack([below_of(f) for f in frames]).astype(np.float16)
    del frames
    history = int(start.config.history)
    n_steps = (below.shape[1] - 8) // 2 - 2  # the top's two unpadded time convolutions and its pooling
    y, w = F.targets(ends, n_steps, history)
    top, head, info = F.tune(
        below,
        y,
        w,
        start.head,
        history=history,
        epochs=args.epochs,
        rounds=args.rounds,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        start_front_end=start.front_end,
        freeze_head=args.freeze_head,
        keep=quiet if args.keep_quiet > 0 else None,
        keep_weight=args.keep_quiet,
    )
    with tempfile.TemporaryDirectory() as tmp:
        front = top.save(Path(tmp) / "front.npz")
        config = D.DetectorConfig(
            history=history,
            threshold=start.config.threshold if args.threshold is None else args.threshold,
            patience=start.config.patience,
            refractory_s=start.config.refractory_s,
            notes={
                "trained_on": trained_on,
                "started_from": str(args.head),
                "start_head_notes": start.config.notes,
                **info,
                "epochs": args.epochs,
                "rounds": args.rounds,
                "freeze_head": args.freeze_head,
                "keep_quiet": args.keep_quiet,
                "learning_rate": args.learning_rate,
                "seed": args.seed,
                "train_seconds": round(time.time() - t, 1),
                "command": command_line(__file__, argv),
            },
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        D.EmbeddingDetector(head, config, front_end=front).save(args.out)
    print(f"saved {args.out}, its .json and {args.out.stem}{D.FRONT_END_SUFFIX}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
