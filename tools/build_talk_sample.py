"""Write the lessons' sample of continuous talk: a minute of synthetic talk in held-out voices and texts.

    python tools/build_talk_sample.py --out assets/talk_sample.wav --seed 0

Three 20 s parts (one person talking, two taking turns, a person over a crowd), made by
:func:`twd_lab.talk.talk_clip` from held-out speakers and held-out fortune topics, so neither detector
was trained on the voices or the words. Stored as 16 kHz 16-bit mono like the other assets; the same
seed and engine versions give the same file. Lesson 3 runs both detectors over it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from twd_lab import talk
from twd_lab.assets_build import write_pcm16
from twd_lab.assets_index import bundled_raw_dir
from twd_lab.audio import load_raw_audio, resample
from twd_lab.augment import WordAugmenter
from twd_lab.constants import SAMPLE_RATE
from twd_lab.tts import TTS_SAMPLE_RATE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("assets/talk_sample.wav"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--part-s", type=float, default=20.0, help="seconds per part (three parts)")
    args = ap.parse_args(argv)
    sentences, voices = talk.talk_sentences("heldout"), talk.talk_voices("heldout")
    _, _, backgrounds = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    parts = []
    for i, mode in enumerate(("monologue", "dialogue", "babble")):
        rng = np.random.default_rng([args.seed, i])
        clip = talk.talk_clip(
            sentences,
            voices,
            rng=rng,
            duration_s=args.part_s,
            backgrounds=backgrounds,
            background_p=1.0 if mode == "babble" else 0.5,
            augment=WordAugmenter() if i == 1 else None,
            mode=mode,
        )
        parts.append(clip.audio)
    audio = resample(np.concatenate(parts), SAMPLE_RATE, TTS_SAMPLE_RATE)
    write_pcm16(args.out, audio, TTS_SAMPLE_RATE)
    print(f"wrote {args.out}: {len(audio) / TTS_SAMPLE_RATE:.0f} s of held-out talk", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
