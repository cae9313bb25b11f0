"""Fine-tune the lab network with synthetic talk among its training examples: the talk lever, for the
network the lessons teach.

    python tools/finetune_lab_on_talk.py --out runs/lab_talk/model.keras --epochs 6

Starts from the shipped ``assets/model.keras`` and trains on the lab's on-the-fly examples (bundled
training voices, default augmentation), except that in a share ``--p-talk`` of them the background is
10 s of talk (:func:`twd_lab.talk.talk_clip`, training voices and texts) 3-10 dB under the words instead
of room noise 20 dB under them, so the network hears speech that is not "activate" with label 0.
With ``--p-talk-only`` a share of those talk examples carry no words at all: the talk alone, at its own
level, labelled 0 everywhere (the speech-embedding head's lever: talk as pure negatives).
The held-out voices and texts and every real recording stay out of it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from twd_lab.training import OnTheFlyDataset


class TalkMixedDataset(OnTheFlyDataset):
    """:class:`OnTheFlyDataset` whose examples have talk as their background with chance ``p_talk``."""

    def __init__(self, *args, talk_clips=(), p_talk: float = 0.4, p_talk_only: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.talk_clips = list(talk_clips)
        self.p_talk = float(p_talk)
        self.p_talk_only = float(p_talk_only)

    def example(self, rng):
        if not self.talk_clips or rng.random() >= self.p_talk:
            return super().example(rng)
        talk = self.talk_clips[int(rng.integers(len(self.talk_clips)))]
        talk = np.roll(talk, int(rng.integers(talk.size)))
        if rng.random() < self.p_talk_only:
            from twd_lab.constants import TY
            from twd_lab.spectrogram import pcm16_frames

            return pcm16_frames(talk), np.zeros((TY, 1), np.float32)
        return self.example_over(
            talk,
            rng,
            background_gain_db=float(rng.uniform(-10.0, -3.0)),
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="the fine-tuned model (.keras)")
    ap.add_argument("--talk-clips", type=int, default=150, help="10 s talk clips rendered for the pool")
    ap.add_argument("--p-talk", type=float, default=0.4, help="share of examples over talk")
    ap.add_argument(
        "--p-talk-only",
        type=float,
        default=0.0,
        help="share of the talk examples with no words (all labels 0)",
    )
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--steps-per-epoch", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.out.exists():
        ap.error(f"{args.out} exists: choose a new --out")

    from twd_lab import evaluation, talk
    from twd_lab.audio import load_raw_audio
    from twd_lab.models import compile_model, load_model
    from twd_lab.training import train

    _, _, backgrounds = load_raw_audio(as_arrays=True)
    sentences, voices = talk.talk_sentences("train"), talk.talk_voices("train")
    t = time.time()
    rng = np.random.default_rng([args.seed, 9])
    pool = [
        talk.talk_clip(sentences, voices, rng=rng, backgrounds=backgrounds).audio
        for _ in range(args.talk_clips)
    ]
    print(f"{len(pool)} talk clips in {time.time() - t:.0f} s", file=sys.stderr)
    model = compile_model(load_model(), learning_rate=args.learning_rate)
    data = TalkMixedDataset(
        "train",
        args.steps_per_epoch,
        args.batch_size,
        seed=args.seed + 50,
        talk_clips=pool,
        p_talk=args.p_talk,
        p_talk_only=args.p_talk_only,
    )
    dev = evaluation.build_test_set("train", 32, seed=10_000 + args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    train(
        model,
        train_data=data,
        val_data=dev,
        epochs=args.epochs,
        batch_size=args.batch_size,
        checkpoint_dir=args.out.parent / "ckpt",
        early_stopping_patience=None,
        progress="epoch",
    )
    model.save(args.out)
    print(f"saved {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
