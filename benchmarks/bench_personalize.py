"""What a few recordings of one's own voice do for the speech-embedding detector.

    python benchmarks/bench_personalize.py              # a few minutes on one CPU core
    python benchmarks/bench_personalize.py --json out.json

For each "user", :func:`twd_lab.personalize.personalize` fine-tunes a copy of the shipped detector on
``--recordings`` of that user's "activate" clips; the shipped detector and the personalised one are then
scored side by side on the *other* clips of the same user (their other "activate" clips and other
words), mixed into seeded 10 s clips (with :func:`twd_lab.evaluation.iter_test_clips`), and on clips
without the word (for false accepts per hour). A second personalised row also gives
``personalize(other_words=...)`` recordings of the user's other words.

Users:

* ``real, fold A`` / ``real, fold B``: ``../shared/real_speech/coursera``'s ten "activate" recordings split
  in two (even and odd files, sorted by name), and its ten other-word recordings likewise; personalised
  on one half, tested on the other half with that folder's backgrounds. The shipped detector never sees them; the personalised copies
  are only measured, never saved (the dev set's rules: measure on it, never ship a model trained on it).
  The recordings come from a few speakers, so this stands for "a few people in one classroom".
* ``TTS speaker …``: held-out TTS speakers (never trained on), the ones with the most clips; tested with
  their own other words and the held-out backgrounds.

Skips the real rows (with a note) when ``../shared/real_speech`` is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from twd_lab.evaluation import iter_test_clips, load_raw_arrays, pooled_scores, real_speech_dir


def score(det, clip_embeddings, clips):
    fires = []
    for emb in clip_embeddings:
        probs, times = det.probabilities_from_embeddings(emb)
        fires.append(times[det.trigger_steps(probs)])
    return pooled_scores(fires, clips)


def heldout_speakers(k: int) -> list[tuple[str, list[np.ndarray], list[np.ndarray]]]:
    """The ``k`` held-out TTS speakers with the most "activate" clips (and at least 4 other words):
    ``[(speaker, activates, other words), ...]``."""
    from twd_lab.assets_index import bundled_dir
    from twd_lab.audio import read_wav

    index = json.loads((bundled_dir() / "index.json").read_text(encoding="utf-8"))
    files: dict[tuple[str, str], list[str]] = {}
    for clip in index["clips"]:
        if clip["split"] == "heldout" and clip["class"] in ("activate", "negative"):
            files.setdefault((clip["speaker"], clip["class"]), []).append(clip["file"])
    # at least 4 other words: two to personalise with, two for the test clips
    speakers = sorted(
        spk for spk, cls in files if cls == "activate" and len(files.get((spk, "negative"), [])) >= 4
    )
    ranked = sorted(speakers, key=lambda spk: (-len(files[spk, "activate"]), spk))[:k]

    def read(spk, cls):
        return [read_wav(bundled_dir() / f) for f in sorted(files.get((spk, cls), []))]

    return [(spk, read(spk, "activate"), read(spk, "negative")) for spk in ranked]


def user_rows(name, base, activates, other_words, backgrounds, args) -> list[dict]:
    """Shipped vs personalised (on recordings; on recordings and other words) for one user.

    The even-numbered clips (up to ``--recordings``) of the user's activates and other words are theirs
    to personalise with; the odd-numbered ones make the test clips, so no test clip was trained on.
    """
    from twd_lab.personalize import personalize

    own, rest = activates[0::2][: args.recordings], activates[1::2]
    own_words, rest_words = other_words[0::2][: args.recordings], other_words[1::2]
    mixed = list(iter_test_clips((rest, rest_words, backgrounds), args.n, args.seed))
    quiet = list(
        iter_test_clips((rest, rest_words, backgrounds), args.n_negative, args.seed + 1, n_activates=0)
    )
    emb_mixed = [base.embed(a) for a, _ in mixed]
    emb_quiet = [base.embed(a) for a, _ in quiet]
    common = {"clips": args.clips, "epochs": args.epochs, "seed": args.seed}
    detectors = [("shipped", base, None)]
    mine, info = personalize(base, own, **common)
    detectors.append((f"personalised: {len(own)} recordings", mine, info["seconds"]))
    mine, info = personalize(base, own, other_words=own_words, **common)
    detectors.append(
        (f"personalised: {len(own)} recordings + {len(own_words)} other words", mine, info["seconds"])
    )
    rows = []
    for detector, det, seconds in detectors:
        s, q = score(det, emb_mixed, mixed), score(det, emb_quiet, quiet)
        rows.append(
            {
                "user": name,
                "detector": detector,
                "recall": s.recall,
                "precision": s.precision,
                "false_accepts_per_hour": (s.false_accepts + q.false_accepts)
                * 3600.0
                / (s.negative_s + q.negative_s),
                "test_words": s.n_words,
                "hours_without_word": (s.negative_s + q.negative_s) / 3600.0,
                "personalize_seconds": seconds,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recordings", type=int, default=5, help="recordings per user to personalise on (5)")
    ap.add_argument("--n", type=int, default=100, help="mixed test clips per user (100)")
    ap.add_argument("--n-negative", type=int, default=100, help="test clips without the word per user (100)")
    ap.add_argument("--speakers", type=int, default=3, help="held-out TTS speakers (3)")
    ap.add_argument("--clips", type=int, default=150, help="personalize(clips=...) (150)")
    ap.add_argument("--epochs", type=int, default=4, help="personalize(epochs=...) (4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    from twd_lab.embedding_detector import EmbeddingDetector

    base = EmbeddingDetector.load()
    t0 = time.time()
    rows, notes = [], []
    real = real_speech_dir()
    if real is None:
        notes.append("real rows skipped: ../shared/real_speech/coursera not found")
    else:
        acts, negs, bgs, _ = load_raw_arrays(real)
        for fold, start in (("A", 0), ("B", 1)):
            # fold B personalises on the odd files
            rows += user_rows(
                f"real, fold {fold}",
                base,
                acts[start:] + acts[:start],
                negs[start:] + negs[:start],
                bgs,
                args,
            )
            print(f"real fold {fold} done at {time.time() - t0:.0f} s", file=sys.stderr)
    _, _, bgs, _ = load_raw_arrays("heldout")
    for speaker, clips, words in heldout_speakers(args.speakers):
        rows += user_rows(f"TTS speaker {speaker} ({len(clips)} clips)", base, clips, words, bgs, args)
        print(f"{speaker} done at {time.time() - t0:.0f} s", file=sys.stderr)

    print("| user | detector | recall | precision | false accepts/h | test words | hours without the word |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['user']} | {r['detector']} | {r['recall']:.3f} | {r['precision']:.3f} "
            f"| {r['false_accepts_per_hour']:.1f} | {r['test_words']} | {r['hours_without_word']:.2f} |"
        )
    for note in notes:
        print(f"\nnote: {note}")
    seconds = [r["personalize_seconds"] for r in rows if r["personalize_seconds"] is not None]
    if seconds:
        print(f"\npersonalize took {min(seconds):.0f}-{max(seconds):.0f} s per user on this machine")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "notes": notes}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
