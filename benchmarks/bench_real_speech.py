"""Real people vs our synthetic voices: the lab network and the speech-embedding detector, side by side.

    python benchmarks/bench_real_speech.py                 # the table (a few minutes on one CPU core)
    python benchmarks/bench_real_speech.py --json out.json
    python benchmarks/bench_real_speech.py --talk [...]  # continuous talk: benchmarks/bench_talk.py's rows

Four seeded test sets, 10 s clips made by :func:`twd_lab.synthesis.synthesize_example` at the lab's levels:

* ``heldout TTS``: the bundled held-out voices (never trained on), 0-4 activates and 0-2 negatives a clip;
* ``real``: ``../shared/real_speech/coursera`` (real people; measured on, never trained on), the same way;
* ``heldout TTS, no word`` and ``real, no word``: the same sources with no activate at all (backgrounds and
  0-2 other words), for false accepts per hour on audio that should never fire.

The mixed sets are the very clips ``twd_lab.evaluation.build_test_set(source, n, seed)`` makes (same draws,
same seed) that ``twd-lab evaluate`` scores. Every detector goes through the one
:class:`~twd_lab.detectors.Detector` interface (loaded as ``twd-lab detect`` loads it; each clip heard by
``Detector.hear``, its firing times the detector's own step times). Scoring is the issue's: a firing within
-0.2 ... +1.2 s of a word's end detects it (:func:`twd_lab.metrics.event_scores`), every other firing is
a false accept, counted per hour of audio without the word. Each detector fires by its own
:class:`~twd_lab.detectors.FiringRule` at each threshold, with its own refractory (the lab's 75 steps =
0.55 s; 1 s for the embedding head) and with 1 s.

Edges. By default every detector is scored twice: on each clip bare (the issue's scoring), and on the
clip as ``twd-lab detect`` hears a file (``--padding``; :func:`twd_lab.detection.pad_edges`: 0.5 s of
silence before it and 1 s after, times shifted back). Padding decides the edge cases: bare, a word ending
in a clip's last ~0.3 s is over before the embedding head can fire (it fires 0.3-0.8 s after the word),
and the head's first steps, whose history is filled by repeating the first embedding, fired at 0.86 s
in two clips whose words end at 1.1 and 1.7 s. Padded firings after a clip's end still count (as hits
within +1.2 s of a word, else as false accepts); the hours counted are the clips' own.

``--sets heldout`` scores only the project's own held-out sets: what heads are compared and chosen on,
without reading a real row (``--sets real`` the real ones only). With the default (both), the real sets
are left out with a note when ``../shared/real_speech`` is absent; ``--sets real`` then skips (exit 0, with
a reason). A detector whose model file or packages are missing is left out of the table with a note.
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

from twd_lab.constants import BACKGROUND_GAIN_DB, DETECT_TAIL_S, SAMPLE_RATE
from twd_lab.detection import pad_edges, padded_lead_s
from twd_lab.evaluation import iter_test_clips, pooled_scores, real_speech_dir
from twd_lab.metrics import EventScores, event_scores


def synth_clips(
    raw, n: int, seed: int, *, n_activates: int | None = None, background_gain_db: float = BACKGROUND_GAIN_DB
):
    """``n`` seeded clips from ``raw``: a list of ``(audio, word_ends_s)`` (:func:`iter_test_clips`).

    With ``n_activates=None`` and the lab's background gain these are the clips of
    ``evaluation.build_test_set(raw, n, seed)``.
    """
    return list(iter_test_clips(raw, n, seed, n_activates=n_activates, background_gain_db=background_gain_db))


#: Added to a detector's name in rows where each clip was heard as `twd-lab detect` hears a file.
PADDED_LABEL = ", file padded"


def heard(audio: np.ndarray, padded: bool) -> tuple[np.ndarray, float]:
    """The clip as a detector hears it, and how many seconds later its times are: bare, or as
    ``twd-lab detect`` hears a file (:func:`twd_lab.detection.pad_edges`: silence before and after)."""
    if not padded:
        return audio, 0.0
    return pad_edges(audio), padded_lead_s()


def load(kind: str, path: Path | None):
    """``(detector, None)`` of ``kind`` ("lab" or "embedding") from ``path`` (None: the shipped one), loaded as
    ``twd-lab detect`` loads it and warmed up; or ``(None, note)`` when its file or packages are missing."""
    from twd_lab.detectors.files import load_detector

    try:
        detector, _ = load_detector(
            kind, path if kind == "lab" else None, head_path=path if kind != "lab" else None
        )
        detector.warm_up()  # fails here, not mid-table, when onnxruntime is missing
    except (FileNotFoundError, ImportError, ValueError) as exc:
        return None, f"{kind} detector left out: {exc}"
    return detector, None


def label_of(detector) -> str:
    return detector.title.removeprefix("the ")


def detector_rows(detector, sets: dict, thresholds, padded: bool = False) -> list[dict]:
    """Any detector on each set clip by clip, through the Detector interface: each clip heard bare or
    padded (:func:`heard`) by :meth:`Detector.hear <twd_lab.detectors.base.Detector.hear>`, fired by its own
    rule at each threshold, with its own refractory and with 1 s (the embedding head's; the lab's is 0.55 s)."""
    rule = detector.rule
    refractories = sorted({rule.refractory, round(1.0 / detector.step_s)})
    rows, label = [], label_of(detector) + PADDED_LABEL * padded
    for name, clips in sets.items():
        probs = []
        for a, _ in clips:
            x, lead = heard(a, padded)
            p, t = detector.hear(x)
            probs.append((p, t - lead))
        for refractory in refractories:
            for th in thresholds:
                fire = rule.with_overrides(threshold=th, refractory=refractory).fire
                fires = [[f.time_s for f in fire(p, t)] for p, t in probs]
                rows.append(_row(name, label, th, refractory * detector.step_s, pooled_scores(fires, clips)))
    return rows


def stream_rows(detector, sets: dict, thresholds) -> list[dict]:
    """Any detector on each set as **one continuous stream** (a microphone left on): the clips back to
    back through its stream, with 1 s of silence after them as ``finish()`` hears. No clip has an edge of
    its own, so neither padding nor its absence decides anything."""
    rows = []
    for name, clips in sets.items():
        starts = np.cumsum([0] + [a.size for a, _ in clips[:-1]]) / SAMPLE_RATE
        ends = [start + e for start, (_, es) in zip(starts, clips) for e in es]
        audio = np.concatenate(
            [a for a, _ in clips] + [np.zeros(round(DETECT_TAIL_S * SAMPLE_RATE), np.float32)]
        )
        probs, times = detector.hear(audio)
        for th in thresholds:
            fires = [f.time_s for f in detector.rule.with_overrides(threshold=th).fire(probs, times)]
            s = event_scores(ends, fires, sum(a.size for a, _ in clips) / SAMPLE_RATE)
            rows.append(
                _row(
                    name,
                    label_of(detector) + ", one stream",
                    th,
                    detector.rule.refractory * detector.step_s,
                    s,
                )
            )
    return rows


def _row(test_set: str, detector: str, threshold: float, refractory_s: float, s: EventScores) -> dict:
    return {
        "test set": test_set,
        "detector": detector,
        "threshold": float(threshold),
        "refractory_s": round(float(refractory_s), 3),
        "recall": s.recall,
        "precision": s.precision,
        "false_accepts_per_hour": s.false_accepts_per_hour,
        "words": s.n_words,
        "false_accepts": s.false_accepts,
        "hours": s.duration_s / 3600.0,
    }


def format_rows(rows: list[dict]) -> str:
    lines = [
        "| test set | detector | threshold | refractory (s) | recall | precision | false accepts/h | words | hours |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        # recall and precision mean nothing on audio without the word
        recall, precision = ("–", "–") if r["words"] == 0 else (f"{r['recall']:.3f}", f"{r['precision']:.3f}")
        lines.append(
            f"| {r['test set']} | {r['detector']} | {r['threshold']:.3g} | {r['refractory_s']:.2f} "
            f"| {recall} | {precision} | {r['false_accepts_per_hour']:.1f} | {r['words']} | {r['hours']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--talk"]:
        # the talk mode: continuous talk, words inside talk and in noise (benchmarks/bench_talk.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_talk import main as talk_main

        return talk_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="mixed clips per set (the issue: 200)")
    ap.add_argument("--n-negative", type=int, default=360, help="no-word clips per set (360 = 1 h)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the test sets (twd-lab evaluate: 0)")
    ap.add_argument("--thresholds", default="0.5,0.8,0.9,0.95,0.98")
    ap.add_argument(
        "--head", type=Path, default=None, help="embedding head (default assets/embedding_head.keras)"
    )
    ap.add_argument("--lab-model", type=Path, default=None, help="lab network (default assets/model.keras)")
    ap.add_argument(
        "--padding",
        choices=("bare", "padded", "both"),
        default="both",
        help="hear each clip bare (the issue's scoring), as `twd-lab detect` hears a file (0.5 s of "
        "silence before, 1 s after: a word at a clip's very end can still fire), or both (default)",
    )
    ap.add_argument(
        "--background-gain-db",
        type=float,
        default=BACKGROUND_GAIN_DB,
        help="gain of the background before mixing (the lab's -20; -10 or 0 for a louder room)",
    )
    ap.add_argument(
        "--stream",
        action="store_true",
        help="also score each detector on each set as one continuous stream (no clip edges)",
    )
    ap.add_argument(
        "--detectors", default="lab,embedding", help="which to score, comma-separated (lab,embedding)"
    )
    ap.add_argument(
        "--sets",
        choices=("both", "heldout", "real"),
        default="both",
        help="heldout: only the project's own held-out voices (choose on these, never on real rows); "
        "real: only ../shared/real_speech; both (default)",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    notes, rows = [], []
    real = real_speech_dir() if args.sets != "heldout" else None
    if real is None and args.sets == "real":
        print("skipped: ../shared/real_speech/coursera not found (real recordings are not shipped)")
        return 0
    if real is None and args.sets == "both":
        notes.append("../shared/real_speech/coursera not found: the held-out sets only")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    t0 = time.time()
    room = {"background_gain_db": args.background_gain_db}
    own = "heldout" if args.sets != "real" else None
    sets = {
        name: synth_clips(source, n, seed, n_activates=said, **room)
        for name, source, n, seed, said in (
            ("heldout TTS", own, args.n, args.seed, None),
            ("real (coursera)", real, args.n, args.seed, None),
            ("heldout TTS, no word", own, args.n_negative, args.seed + 1, 0),
            ("real, no word", real, args.n_negative, args.seed + 1, 0),
        )
        if source is not None
    }
    print(f"test sets synthesized in {time.time() - t0:.0f} s", file=sys.stderr)
    kinds = [d.strip() for d in args.detectors.split(",")]
    if not kinds or not set(kinds) <= {"lab", "embedding"}:
        ap.error(f"--detectors must name lab and/or embedding, got {args.detectors!r}")
    paddings = {"bare": (False,), "padded": (True,), "both": (False, True)}[args.padding]
    paths = {"lab": args.lab_model, "embedding": args.head}
    for kind in kinds:
        detector, note = load(kind, paths[kind])
        if note:
            notes.append(note)
            continue
        t = time.time()
        for padded in paddings:
            rows += detector_rows(detector, sets, thresholds, padded)
        if args.stream:
            rows += stream_rows(detector, sets, thresholds)
        print(f"{label_of(detector)} scored in {time.time() - t:.0f} s", file=sys.stderr)
    rows.sort(
        key=lambda r: (list(sets).index(r["test set"]), r["detector"], r["refractory_s"], r["threshold"])
    )
    print(format_rows(rows))
    for note in notes:
        print(f"\nnote: {note}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "notes": notes}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
