"""Choose the embedding detector's threshold for a false-accepts-per-hour target, on our own audio.

    python tools/calibrate_embedding_detector.py                          # report only
    python tools/calibrate_embedding_detector.py --target 0.5 --hours 2 --write

Synthesizes ``--hours`` of 10 s clips *without* the word from the bundled training voices (backgrounds
and 0-2 other words, augmented as in training, with a seed training did not use), runs the head on them,
and for each patience picks the lowest threshold that fires at most ``--target`` times an hour
(:func:`twd_lab.metrics.threshold_for_false_accepts`). Beside it, the recall that threshold keeps on
mixed clips of the same voices. Neither the held-out voices nor real recordings are looked at, so both
stay fair tests (``benchmarks/bench_real_speech.py``). ``--write`` stores the choice (threshold and
patience; the default patience is the one with the best recall) in the head's ``.json``.

These voices' negatives were in training, so the rate measured here runs lower than on new voices:
read the held-out and real rows of the benchmark for what users get.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder: tool_command

from tool_command import command_line

from twd_lab.constants import CLIP_MS
from twd_lab.metrics import threshold_for_false_accepts

CLIP_S = CLIP_MS / 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--head", type=Path, default=None, help="head (default assets/embedding_head.keras)")
    ap.add_argument("--target", type=float, default=0.5, help="false accepts per hour (0.5)")
    ap.add_argument("--hours", type=float, default=2.0, help="hours of audio without the word (2)")
    ap.add_argument(
        "--talk-hours",
        type=float,
        default=0.0,
        help="also this many hours of synthetic talk in the training voices and texts (twd_lab.talk), "
        "one stream, in the audio without the word",
    )
    ap.add_argument("--mixed", type=int, default=200, help="mixed clips for the recall column (200)")
    ap.add_argument("--patience", default="1,2,3", help="patience values to try (1,2,3)")
    ap.add_argument("--seed", type=int, default=777, help="seed of the clips (777; training used 0-2)")
    ap.add_argument("--write", action="store_true", help="store the choice in the head's .json")
    args = ap.parse_args(argv)

    from twd_lab.embedding_detector import EmbeddingDetector, default_head_path, embedded_examples
    from twd_lab.evaluation import load_raw_arrays
    from twd_lab.metrics import EventScores, event_scores
    from twd_lab.rng import as_generator

    head_path = args.head or default_head_path()
    det = EmbeddingDetector.load(head_path)
    raw = load_raw_arrays("train")[:3]
    rng = as_generator(args.seed)
    n_quiet = max(1, round(args.hours * 3600 / CLIP_S))
    # augmented as in training; embeddings once (through the head's own front end), probabilities once
    quiet = embedded_examples(raw, n_quiet, rng=rng, augment=True, n_activates=0, features=det.embed)
    mixed = embedded_examples(raw, args.mixed, rng=rng, augment=True, features=det.embed)
    quiet_probs = [det.probabilities_from_embeddings(e)[0] for e in quiet.emb]
    mixed_probs = [det.probabilities_from_embeddings(e) for e in mixed.emb]
    hours = n_quiet * CLIP_S / 3600
    source = "bundled:train, no-word clips, augmented"
    if args.talk_hours > 0:
        from twd_lab.talk_eval import EmbeddingCache, generated_talk_segments

        talk = EmbeddingCache.build(
            generated_talk_segments(args.talk_hours, seed=args.seed, split="train"), det.front_end
        )
        quiet_probs.append(det.probabilities_from_embeddings(talk.emb)[0])
        hours += talk.duration_s / 3600
        source += f" + {talk.duration_s / 3600:.2f} h of talk in the training voices and texts"
    print(f"{hours:.2f} h without the word ({source}), {args.mixed} mixed clips")
    print("| patience | threshold | false accepts/h (these voices) | recall (these voices) |")
    print("| --- | --- | --- | --- |")
    choices = []
    for patience in (int(p) for p in args.patience.split(",")):
        threshold, rate = threshold_for_false_accepts(
            quiet_probs, hours, args.target, patience=patience, refractory=det.refractory_steps
        )
        det.config.patience = patience
        scores = EventScores(0, 0, 0, 0.0, 0.0)
        for (probs, times), ends in zip(mixed_probs, mixed.word_ends_s, strict=True):
            scores = scores + event_scores(ends, times[det.trigger_steps(probs, threshold)], CLIP_S)
        print(f"| {patience} | {threshold:.3f} | {rate:.2f} | {scores.recall:.3f} |")
        choices.append((rate <= args.target, scores.recall, patience, threshold))
    _met, recall, patience, threshold = max(choices)
    print(f"\nchoice: threshold {threshold:.3f}, patience {patience} (recall {recall:.3f} on these voices)")
    if args.write:
        cfg_path = head_path.with_suffix(".json")
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
        config.update(threshold=threshold, patience=patience)
        config.setdefault("notes", {})["calibration"] = {
            "target_false_accepts_per_hour": args.target,
            "hours": round(hours, 2),
            "seed": args.seed,
            "source": source,
            "command": command_line(__file__, argv),
        }
        cfg_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {cfg_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
