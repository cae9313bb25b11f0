#!/usr/bin/env python
"""Regenerate the project's own audio assets (offline, from a seed).

    python tools/build_assets.py --out assets --seed 0            # the shipped set, bit for bit
    python tools/build_assets.py --out data/tts_x4 --seed 1 --scale 4   # a larger set for training

Any --seed keeps the shipped train/heldout speaker split (set by --split-seed, default 0).

Needs the Debian engines: apt-get install espeak-ng flite festival festvox-kallpc16k
festvox-kdlpc16k festvox-us-slt-hts. The logic lives in twd_lab.assets_build.
"""

from __future__ import annotations

import argparse
import sys

from twd_lab.assets_build import build_assets, summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="assets", help="output folder (default: assets)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the plan and the noises (default: 0)")
    parser.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the train/heldout speaker split (default: 0, the shipped split)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the clip counts (default: 1)")
    parser.add_argument("--activates", type=int, default=None, help="number of trigger-word clips")
    parser.add_argument("--negatives", type=int, default=None, help="number of negative clips")
    parser.add_argument("--engines", default=None, help="comma-separated engines (default: all installed)")
    parser.add_argument("--no-backgrounds", action="store_true", help="skip the stored backgrounds")
    args = parser.parse_args(argv)
    engines = tuple(args.engines.split(",")) if args.engines else None
    index = build_assets(
        args.out,
        args.seed,
        split_seed=args.split_seed,
        scale=args.scale,
        engines=engines,
        n_activates=args.activates,
        n_negatives=args.negatives,
        backgrounds=not args.no_backgrounds,
    )
    print(summarize(index))
    return 0


if __name__ == "__main__":
    sys.exit(main())
