"""Teach the speech embedding's top layers to hear through noise, with the head left as it is; save both.

    python tools/distill_front_end.py --out runs/fe/distilled/head.keras
    python tools/distill_front_end.py --words 4800 --talk 1600 --seed 1 --out runs/fe/d2/head.keras
    python tools/distill_front_end.py --seed 1 --clean-weight 2 --keep-mixed 1600 --out runs/fe/dist4/head.keras

No word or label is in the loss (:func:`twd_lab.front_end_tuning.distill`): each training clip is made
twice from the bundled TRAIN voices (lab clips of words, and clips of one synthetic talker), once over the
lab's quiet room and once with loud noise on top (a crowd of training-split talkers, dishes, traffic or
music, 0-20 dB below the speech; :func:`~twd_lab.front_end_tuning.distillation_pairs`), and the top is
trained so that the noisy clip gives the embeddings the shipped model gives the quiet one, and the quiet
one its own; with ``--keep-mixed N``, N lab mixed clips heard as ``twd-lab detect`` hears a file are kept
as they are too (:func:`~twd_lab.front_end_tuning.keep_clips`). The head (``--head``, default the shipped
one) is copied unchanged beside the new weights (``<out>.front.npz``, which its settings name). The pairs
are kept in ``--cache`` (1.8 GB for the defaults). About 25 min on 2 CPU cores with the defaults, half of it making the pairs. Needs
``pip install "twd-lab[embedding]"``.
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
from train_embedding_detector import raw_key

from twd_lab import embedding_detector as D
from twd_lab.audio import load_raw_audio

#: Clips of one talker cut into the crowds (made first, from the same seed as the talker clips).
CROWD_TALKERS = 60


def cached_arrays(cache: Path | None, name: str, make) -> dict[str, np.ndarray]:
    """``make()`` (named arrays), kept in ``cache`` as ``name`` and read from there when it is made."""
    path = None if cache is None else cache / name
    if path is not None and path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    out = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    return out


def cached_pairs(args, raw, key: str) -> dict[str, np.ndarray]:
    """The pairs' features (:func:`~twd_lab.front_end_tuning.pair_features`), made once per recipe and
    kept in ``args.cache``."""
    from tqdm.auto import tqdm

    from twd_lab import front_end_tuning as F
    from twd_lab.talk_eval import clean_talk_clips

    def make():
        t = time.time()
        talkers = clean_talk_clips(args.talk + CROWD_TALKERS, split="train", seed=args.seed + 1000)
        crowd, talk = talkers[:CROWD_TALKERS], talkers[CROWD_TALKERS:]
        stages = F.FrozenStages()
        pairs = F.distillation_pairs(raw, args.words, talk, crowd, rng=np.random.default_rng(args.seed))
        parts = [
            F.pair_features(noisy, clean, stages)
            for noisy, clean in tqdm(pairs, total=args.words + args.talk, desc="pairs", unit="pair")
        ]
        print(f"{len(parts)} pairs made in {time.time() - t:.0f} s", file=sys.stderr)
        names = ("below_noisy", "below_clean", "target")
        return {name: np.stack([p[i] for p in parts]) for i, name in enumerate(names)}

    return cached_arrays(args.cache, f"{key}_pairs_w{args.words}_t{args.talk}_seed{args.seed}.npz", make)


def cached_keep(args, raw, key: str) -> dict[str, np.ndarray]:
    """Features of ``--keep-mixed`` clips (:func:`~twd_lab.front_end_tuning.keep_clips`, drawn from the seed
    ``--seed`` + 10) as pairs of a clip with itself, cached in ``args.cache`` beside the pairs."""
    from tqdm.auto import tqdm

    from twd_lab import front_end_tuning as F

    def make():
        stages = F.FrozenStages()
        clips = F.keep_clips(raw, args.keep_mixed, rng=args.seed + 10)
        parts = [F.pair_features(x, x, stages) for x in tqdm(clips, total=args.keep_mixed, desc="kept")]
        return {"below": np.stack([p[0] for p in parts]), "target": np.stack([p[2] for p in parts])}

    return cached_arrays(args.cache, f"{key}_keep_n{args.keep_mixed}_seed{args.seed + 10}.npz", make)


def with_kept(
    features: dict[str, np.ndarray], kept: dict[str, np.ndarray], seed: int
) -> dict[str, np.ndarray]:
    """The pairs and the kept clips (each its own noisy and clean clip) in one shuffled order, so
    :func:`~twd_lab.front_end_tuning.distill`'s held-out share has both."""
    joined = {
        "below_noisy": np.concatenate([features["below_noisy"], kept["below"]]),
        "below_clean": np.concatenate([features["below_clean"], kept["below"]]),
        "target": np.concatenate([features["target"], kept["target"]]),
    }
    order = np.random.default_rng(seed).permutation(len(joined["target"]))
    return {k: v[order] for k, v in joined.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--head", type=Path, default=None, help="the head put on top (default: the shipped one)")
    ap.add_argument(
        "--raw", type=Path, default=None, help="words and rooms (default: the bundled train split)"
    )
    ap.add_argument("--words", type=int, default=4800, help="lab clips of words")
    ap.add_argument("--talk", type=int, default=1600, help="clips of one synthetic talker")
    ap.add_argument(
        "--keep-mixed",
        type=int,
        default=0,
        help="lab mixed clips, heard as detect hears a file, whose embeddings the top must keep (0: none)",
    )
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument(
        "--clean-weight", type=float, default=1.0, help="weight of keeping the quiet clips' embeddings"
    )
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("runs/distill_cache"), help="the pairs' features")
    ap.add_argument("--out", type=Path, required=True, help="the head (.keras; .json and .front.npz beside)")
    ap.add_argument("--overwrite", action="store_true", help="replace --out if it is there")
    args = ap.parse_args(argv)
    for name, least in (("words", 1), ("talk", 0), ("keep_mixed", 0), ("epochs", 1), ("batch_size", 1)):
        if getattr(args, name) < least:
            ap.error(f"--{name.replace('_', '-')} must be a count >= {least}, got {getattr(args, name)}")
    if args.out.suffix != ".keras":
        ap.error(f"--out must end in .keras, got {args.out.name!r}")
    start = D.EmbeddingDetector.load(args.head)
    start_path = args.head or D.default_head_path()
    if args.out.resolve() == Path(start_path).resolve():
        ap.error(f"--out {args.out} is the head it starts from; write the distilled one elsewhere")
    if args.out.exists() and not args.overwrite:
        ap.error(f"--out {args.out} is there already; pass --overwrite to replace it")
    if start.front_end is not None:
        ap.error(
            f"--head {start_path} hears through a tuned front end; distil under a head of the shipped one"
        )

    from twd_lab import front_end_tuning as F

    trained_on = str(args.raw)
    if args.raw is None:
        from twd_lab.assets_index import bundled_raw_dir

        args.raw, trained_on = bundled_raw_dir("train"), "bundled:train (assets/raw/train)"
    raw = load_raw_audio(args.raw, as_arrays=True)
    features = cached_pairs(args, raw, raw_key(args.raw))
    if args.keep_mixed:
        features = with_kept(features, cached_keep(args, raw, raw_key(args.raw)), args.seed)
    t = time.time()

    def progress(epoch, info):
        print(
            f"epoch {epoch}/{args.epochs}: loss {info['loss'][-1]}, held-out distance noisy "
            f"{info['noisy_distance'][-1]} clean {info['clean_distance'][-1]} ({time.time() - t:.0f} s)",
            file=sys.stderr,
        )

    top, info = F.distill(
        features["below_noisy"],
        features["below_clean"],
        features["target"],
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        clean_weight=args.clean_weight,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=progress,
    )
    with tempfile.TemporaryDirectory() as tmp:
        front = top.save(Path(tmp) / "front.npz")
        notes = {
            **(start.config.notes or {}),
            "front_end": {
                "distilled_on": trained_on,
                "words": args.words,
                "talk": args.talk,
                "keep_mixed": args.keep_mixed,
                **info,
                "epochs": args.epochs,
                "learning_rate": args.learning_rate,
                "clean_weight": args.clean_weight,
                "seed": args.seed,
                "train_seconds": round(time.time() - t, 1),
                "command": command_line(__file__, argv),
            },
        }
        config = D.DetectorConfig(**{**vars(start.config), "front_end": None, "notes": notes})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        D.EmbeddingDetector(start.head, config, front_end=front).save(args.out)
    print(f"saved {args.out}, its .json and {args.out.stem}{D.FRONT_END_SUFFIX}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
