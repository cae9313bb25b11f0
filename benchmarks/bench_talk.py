"""False accepts on continuous talk, and "activate" said inside talk and in noise: both detectors.

    python benchmarks/bench_talk.py                       # the table (shipped detectors; ~15 min on 2 cores)
    python benchmarks/bench_talk.py --hours 5 --heads runs/heads/a.keras runs/heads/b.keras
    python benchmarks/bench_talk.py --json talk.json
    python benchmarks/bench_talk.py --only "generated talk, 5" held-out --thresholds 0.5 0.9 0.95 --plot t.png

Rows (each test is one continuous stream, see :mod:`twd_lab.talk_eval`):

* ``real talk``: ``../shared/real_speech/talk``, 25.6 min of real read speech by 126 speakers, back to
  back (false accepts per hour; 0 in 25.6 min only bounds the rate below ~7/h);
* ``generated talk``: ``--hours`` of the project's own synthetic talk in voices *and* texts that
  training never used (held-out speakers, held-out fortune topics): where low rates are shown;
* ``real words in real talk``: the 10 real "activate" recordings spliced into the real talk about every
  20 s, between and inside sentences (recall, precision, false accepts per hour);
* ``real words in generated talk``: the same words spliced into an hour of held-out generated talk;
* ``real words at N dB SNR``: the real words over babble (of real talk), dishes, traffic and music at
  0, 10 and 20 dB speech-to-noise ratio;
* ``held-out TTS words at N dB SNR``: the same test made only of the project's own held-out audio (TTS
  voices training never heard, over a crowd of held-out generated talkers), twice the clips: what heads
  are compared on, since the real rows are measured, never chosen on;
* ``held-out TTS other words at N dB SNR``: the same with 1-3 other words a clip and no "activate"
  (false accepts per hour): hearing the word through noise must not make every word in noise fire. The
  lab's other words hold many near-homophones ("captivate", "active", "activist", "motivate"): nearly
  every firing here is on one of them;
* ``held-out talk in noise at N dB SNR``: one held-out talker a clip (no word) over the same noises at
  the same SNRs, as many clips (false accepts per hour): talk in a noisy room, the rate the noise goal
  is held to.

``--plot`` draws the trade the thresholds walk: for each detector, recall on the held-out TTS words at
``--plot-snr`` dB against false accepts per hour on generated talk, on talk in noise and on the other
words in noise (those of them that ran), one point per threshold, with the goal's corner marked.

The speech-embedding heads are scored from cached embeddings (``--cache``, default ``runs/talk_eval``),
so comparing heads after the first run takes seconds; the lab network hears the audio itself.
Needs ``../shared/real_speech`` for the real rows (skipped with a note when absent) and the TTS engines
and ``fortunes`` for the generated ones.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from twd_lab import talk_eval as T
from twd_lab.metrics import EventScores


def scenes(args) -> dict:
    """``{name: (make_segments, cache_name)}`` for every test this machine can run."""
    from twd_lab.audio import load_raw_audio
    from twd_lab.evaluation import real_speech_dir

    out = {}
    hours = args.hours
    out[f"generated talk, {hours:g} h"] = (
        lambda: T.generated_talk_segments(hours, seed=args.seed, progress=True),
        f"gen_talk_{hours:g}h_seed{args.seed}",
    )
    if args.snr:
        from twd_lab.assets_index import bundled_raw_dir

        held = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)

        @functools.cache
        def crowd():  # held-out talkers, made once for every SNR
            return T.clean_talk_clips(40, seed=args.seed + 200)

        @functools.cache
        def talkers():  # one held-out talker a clip, over each kind of noise
            return T.clean_talk_clips(len(T.NOISE_KINDS) * args.noise_clips * 2, seed=args.seed + 500)

        # (name, cache name, rng offset, words a clip): the word said, and other words only
        tests = [
            ("held-out TTS words", "heldout_words", 300, {}),
            (
                "held-out TTS other words",
                "heldout_others",
                400,
                {"n_activates": (0, 0), "n_negatives": (1, 3)},
            ),
        ]
        for snr in args.snr:
            for name, cache_name, offset, counts in tests:
                out[f"{name} at {snr:g} dB SNR"] = (
                    lambda snr=snr, offset=offset, counts=counts: T.noisy_word_segments(
                        held[0],
                        held[1],
                        snr,
                        n=args.noise_clips * 2,
                        babble_talk=crowd(),
                        rng=args.seed + offset,
                        **counts,
                    ),
                    f"{cache_name}_snr{snr:g}_n{args.noise_clips * 2}_seed{args.seed}",
                )
            out[f"held-out talk in noise at {snr:g} dB SNR"] = (
                lambda snr=snr: T.noisy_talk_segments(
                    talkers(), snr, babble_talk=crowd(), negatives=held[1], rng=args.seed + 500
                ),
                f"heldout_talk_snr{snr:g}_n{args.noise_clips * 2}_seed{args.seed}",
            )
    coursera, talk_dir = real_speech_dir(), T.real_talk_dir()
    if coursera is None or talk_dir is None:
        print("note: ../shared/real_speech is absent: the real rows are left out", file=sys.stderr)
        return out
    acts, negs, _ = load_raw_audio(coursera, as_arrays=True)
    real = T.real_talk_segments(talk_dir)
    out["real talk (25.6 min)"] = (lambda: real, "real_talk")
    out["real words in real talk"] = (
        lambda: T.spliced_segments(real, acts, rng=args.seed),
        f"real_words_real_talk_seed{args.seed}",
    )
    out["real words in generated talk, 1 h"] = (
        lambda: T.spliced_segments(
            list(T.generated_talk_segments(1.0, seed=args.seed + 100)), acts, rng=args.seed
        ),
        f"real_words_gen_talk_seed{args.seed}",
    )
    for snr in args.snr:
        out[f"real words at {snr:g} dB SNR"] = (
            lambda snr=snr: T.noisy_word_segments(
                acts, negs, snr, n=args.noise_clips, babble_talk=[a for a, _ in real], rng=args.seed
            ),
            f"real_words_snr{snr:g}_n{args.noise_clips}_seed{args.seed}",
        )
    return out


def row(scene: str, detector: str, threshold: float, s: EventScores, kind: str | None = None) -> dict:
    """One table row; ``kind``: the noise kind of a noisy scene's part (``--by-kind``), else None."""
    return {
        "test": scene,
        "kind": kind,
        "detector": detector,
        "threshold": threshold,
        "recall": s.recall if s.n_words else None,
        "precision": s.precision if s.n_words else None,
        "false_accepts": s.false_accepts,
        "hours_without_word": s.negative_s / 3600,
        "false_accepts_per_hour": s.false_accepts_per_hour,
        "words": s.n_words,
    }


def format_rows(rows: list[dict]) -> str:
    lines = [
        "| test | detector | threshold | recall | precision | false accepts | hours | FA/h |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        rec = "" if r["recall"] is None else f"{r['recall']:.3f} ({r['words']})"
        prec = "" if r["precision"] is None else f"{r['precision']:.3f}"
        test = r["test"] if r.get("kind") is None else f"{r['test']}, {r['kind']}"
        lines.append(
            f"| {test} | {r['detector']} | {r['threshold']:g} | {rec} | {prec} | {r['false_accepts']} "
            f"| {r['hours_without_word']:.2f} | {r['false_accepts_per_hour']:.1f} |"
        )
    return "\n".join(lines)


#: The false-accept tests the noise trade is drawn against: (key, test names' start, what the axis says).
TRADE_TESTS = (
    ("talk", "generated talk", "generated talk (held-out voices and texts)"),
    ("noisy_talk", "held-out talk in noise", "talk in noise (0-20 dB SNR)"),
    ("words", "held-out TTS other words", "other words in noise (0-20 dB SNR)"),
)


def trade_points(rows: list[dict], snr: float = 10.0) -> dict[str, list[dict]]:
    """Each detector's points of the noise trade, one per threshold (sorted): ``recall`` on the held-out
    TTS words at ``snr`` dB, and for each of :data:`TRADE_TESTS` that ran, false accepts per hour
    (``fa_h[key]``, the test's SNRs pooled) over ``hours[key]``. A point without the recall or without
    any false-accept test is left out."""
    said = f"held-out TTS words at {snr:g} dB SNR"
    by_point: dict[tuple[str, float], dict] = {}
    for r in rows:
        if r.get("kind") is not None:  # a part of a scene whose whole is a row too
            continue
        got = by_point.setdefault((r["detector"], r["threshold"]), {"counts": {}})
        if r["test"] == said:
            got["recall"] = r["recall"]
        for key, start, _ in TRADE_TESTS:
            if r["test"].startswith(start):
                fa, hours = got["counts"].get(key, (0, 0.0))
                got["counts"][key] = (fa + r["false_accepts"], hours + r["hours_without_word"])
    out: dict[str, list[dict]] = {}
    for (detector, threshold), got in sorted(by_point.items()):
        counts = {key: c for key, c in got["counts"].items() if c[1] > 0}
        if "recall" in got and counts:
            out.setdefault(detector, []).append(
                {
                    "threshold": threshold,
                    "recall": got["recall"],
                    "fa_h": {key: fa / hours for key, (fa, hours) in counts.items()},
                    "hours": {key: hours for key, (_, hours) in counts.items()},
                }
            )
    return out


def kind_parts(split, scene: str) -> dict:
    """``{kind: part}`` of a noisy scene (its name says "dB SNR"): ``split(n)`` cuts it into ``n``
    equal parts, which are :data:`~twd_lab.talk_eval.NOISE_KINDS` in the order the scene made them.
    ``{}`` for any other scene."""
    if " dB SNR" not in scene:
        return {}
    return dict(zip(T.NOISE_KINDS, split(len(T.NOISE_KINDS))))


def _equal_slices(items: list, n: int) -> list[list]:
    per = len(items) // n
    return [items[i * per : (i + 1) * per] for i in range(n)]


#: Word tests whose recall :func:`plot_kinds` draws: (test names' start, line style).
KIND_TESTS = (("held-out TTS words at", "-"), ("real words at", "--"))


def plot_kinds(rows: list[dict], path: Path, goal: float = 0.95) -> Path:
    """Recall against SNR, one panel per noise kind: a line for each detector, threshold and word test
    (held-out TTS words solid, real words dashed) of the ``--by-kind`` rows, the goal dotted."""
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[tuple, dict[str, list]] = {}
    for r in rows:
        match = re.search(r"at (-?[\d.]+) dB SNR", r["test"])
        style = next((st for start, st in KIND_TESTS if r["test"].startswith(start)), None)
        if r.get("kind") is None or r["recall"] is None or match is None or style is None:
            continue
        key = (r["detector"], r["threshold"], style)
        lines.setdefault(key, {}).setdefault(r["kind"], []).append((float(match.group(1)), r["recall"]))
    if not lines:
        raise ValueError(
            "--plot-kinds needs the words-in-noise tests by kind: run them (the held-out TTS words or "
            "the real words at some SNR; not left out by --only)"
        )
    fig, axes = plt.subplots(1, len(T.NOISE_KINDS), figsize=(3.2 * len(T.NOISE_KINDS), 3.4), sharey=True)
    colours = {}
    pairs = len({key[:2] for key in lines})
    for (detector, threshold, style), by_kind in sorted(lines.items(), key=lambda item: item[0]):
        colour = colours.setdefault((detector, threshold), f"C{len(colours) % 10}")
        label = f"{_legend_label(detector)} at {threshold:g}" + (", real words" if style == "--" else "")
        for ax, kind in zip(axes, T.NOISE_KINDS):
            pts = sorted(by_kind.get(kind, []))
            if pts:
                ax.plot(*zip(*pts), style, marker="o", color=colour, label=label if ax is axes[0] else None)
    for ax, kind in zip(axes, T.NOISE_KINDS):
        ax.axhline(goal, color="grey", linestyle=":", linewidth=1)
        ax.set_title(kind)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("recall")
    # a column per detector and threshold: its held-out line over its real one
    ncol = min(pairs, 4)
    fig.legend(loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * ((len(lines) - 1) // ncol), 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _legend_label(detector: str) -> str:
    """'embedding head (shipped)' -> 'shipped', 'embedding head v16_x' -> 'v16 x'; others as they are."""
    label = detector.removeprefix("embedding head ")
    if label.startswith("(") and label.endswith(")"):
        label = label[1:-1]
    return label.replace("_", " ")


def plot_trade(points: dict[str, list[dict]], path: Path, snr: float = 10.0, goal=(0.5, 0.95)) -> Path:
    """Draw :func:`trade_points` to ``path`` (.png): a panel per false-accept test, recall up the side,
    and the ``goal``'s corner (at most ``goal[0]`` false accepts an hour, recall at least ``goal[1]``)."""
    from matplotlib.figure import Figure

    tests = [t for t in TRADE_TESTS if any(t[0] in p["fa_h"] for pts in points.values() for p in pts)]
    if not tests:
        raise ValueError(
            "nothing to plot: --plot needs the held-out TTS words at --plot-snr and the generated talk, the "
            "held-out talk in noise or the held-out TTS other words, in the same run"
        )
    fig = Figure(figsize=(4.6 * len(tests), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(tests), sharey=True))
    for ax, (key, _, what) in zip(axes, tests):
        # zero false accepts is drawn at a floor: half of one firing in all the hours heard
        floor = 0.5 / max(p["hours"][key] for pts in points.values() for p in pts if key in p["hours"])
        for k, (name, pts) in enumerate(points.items()):
            pts = [p for p in pts if key in p["fa_h"]]
            x = [max(p["fa_h"][key], floor) for p in pts]
            y = [p["recall"] for p in pts]
            label = _legend_label(name)
            (line,) = ax.plot(x, y, "o-", color=f"C{k}", label=label)
            for p, yi in zip(pts, y):
                if p["fa_h"][key] == 0:  # none heard: hollow, with a bar to the 95% upper bound
                    bound = 3.0 / p["hours"][key]
                    ax.plot([floor, bound], [yi, yi], color=line.get_color(), lw=0.8, alpha=0.6)
                    ax.plot([floor], [yi], "o", mfc="white", mec=line.get_color(), zorder=3)
            # every threshold of the first detector, the two ends of the others: labels that stay readable
            for i, (xi, yi, p) in enumerate(zip(x, y, pts)):
                if k == 0 or i in (0, len(pts) - 1):
                    ax.annotate(
                        f"{p['threshold']:g}",
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(4, -10),
                        fontsize=7,
                        color=line.get_color(),
                    )
        # the goal's corner: at most goal[0] false accepts an hour, recall at least goal[1]
        ax.fill_between([floor / 2, goal[0]], goal[1], 1.02, color="0.88", zorder=0, label="goal")
        ax.set_xscale("log")
        ax.set_xlim(floor / 2, None)
        ax.set_xlabel(f"false accepts per hour:\n{what}")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f'recall: held-out "activate" at {snr:g} dB SNR')
    lowest = min(p["recall"] for pts in points.values() for p in pts)
    axes[0].set_ylim(max(0.0, lowest - 0.1), 1.02)
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Hearing the word in noise against staying quiet: each point a threshold", fontsize=10)
    fig.text(
        0.5,
        -0.01,
        "hollow: no false accept in the hours heard, drawn at half of one; its bar reaches the 95% upper "
        "bound (3 over the hours)",
        ha="center",
        va="top",
        fontsize=7,
        color="0.35",
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=5.0, help="hours of generated held-out talk")
    ap.add_argument("--heads", type=Path, nargs="*", default=[], help="embedding heads to score (.keras)")
    ap.add_argument("--no-shipped", action="store_true", help="leave the shipped embedding head out")
    ap.add_argument("--lab", action="store_true", help="score the lab network too (hears the audio: slower)")
    ap.add_argument("--lab-model", type=Path, default=None, help="lab network (default: the shipped one)")
    ap.add_argument("--thresholds", type=float, nargs="*", default=None, help="default: each detector's own")
    ap.add_argument("--snr", type=float, nargs="*", default=[0.0, 10.0, 20.0])
    ap.add_argument("--noise-clips", type=int, default=20, help="10 s clips per noise kind and SNR")
    ap.add_argument(
        "--only", nargs="*", default=None, help="run only the tests whose names hold one of these words"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/talk_eval"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=None, help="draw the noise trade to this .png")
    ap.add_argument("--plot-snr", type=float, default=10.0, help="SNR of the recall the plot draws (10)")
    ap.add_argument(
        "--by-kind",
        action="store_true",
        help="also score each noisy test's noise kinds apart (babble, dishes, traffic, music)",
    )
    ap.add_argument(
        "--plot-kinds", type=Path, default=None, help="draw recall against SNR by noise kind to this .png"
    )
    args = ap.parse_args(argv)
    if args.plot is not None and args.plot_snr not in args.snr:
        ap.error(f"--plot-snr must be one of the --snr values {args.snr}, got {args.plot_snr:g}")

    from twd_lab.embedding_detector import EmbeddingDetector

    heads = [] if args.no_shipped else [("embedding head (shipped)", EmbeddingDetector.load())]
    heads += [(f"embedding head {p.stem}", EmbeddingDetector.load(p)) for p in args.heads]
    lab = None
    if args.lab or args.lab_model:
        from twd_lab.models import load_model

        lab = load_model(args.lab_model)
    tags = [T.front_end_tag(det.front_end) for _, det in heads]
    rows = []
    for name, (make, cache_name) in scenes(args).items():
        if args.only and not any(word in name for word in args.only):
            continue
        # heads on one front end share its embeddings; a tuned front end has its own cache
        for tag in dict.fromkeys(tags):
            group = [(label, det) for (label, det), t in zip(heads, tags) if t == tag]
            t = time.time()
            path = args.cache / f"{cache_name}{tag}.npz"
            cache = T.cached_embeddings(path, make, group[0][1].front_end)
            print(
                f"{name}{tag}: {cache.duration_s / 3600:.2f} h embedded ({time.time() - t:.0f} s)",
                file=sys.stderr,
            )
            parts = kind_parts(cache.parts, name) if args.by_kind or args.plot_kinds else {}
            for label, det in group:
                for th in args.thresholds or [det.config.threshold]:
                    rows.append(row(name, label, th, T.score_embeddings(det, cache, th)))
                    for kind, part in parts.items():
                        rows.append(row(name, label, th, T.score_embeddings(det, part, th), kind))
        if lab is not None:
            t = time.time()
            segments = make()
            label = f"lab network {args.lab_model.stem if args.lab_model else '(shipped)'}"
            parts = {None: segments}
            if args.by_kind or args.plot_kinds:
                parts |= kind_parts(functools.partial(_equal_slices, segments), name)
            for kind, part in parts.items():
                for th, scores in T.score_stream_thresholds(lab, part, args.thresholds or [0.5]).items():
                    rows.append(row(name, label, th, scores, kind))
            print(f"{name}: lab network in {time.time() - t:.0f} s", file=sys.stderr)
    print(format_rows(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if args.plot_kinds is not None:
        try:
            print(f"drew {plot_kinds(rows, args.plot_kinds)}", file=sys.stderr)
        except ValueError as err:
            print(f"bench_talk.py: error: {err}", file=sys.stderr)
            return 2
    if args.plot is not None:
        try:
            drawn = plot_trade(trade_points(rows, args.plot_snr), args.plot, args.plot_snr)
        except ValueError as err:
            print(f"bench_talk.py: error: {err}", file=sys.stderr)
            return 2
        print(f"drew {drawn}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
