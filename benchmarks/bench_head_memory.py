"""Peak memory of fitting a speech-embedding head: windows as rows of a table vs windows as one array.

Each way runs in its own Python process on the same random embeddings shaped like real clips (10 s,
125 steps of 96 numbers each): ``table`` is what :func:`twd_lab.embedding_detector.fit_heads` does
(rows of one :class:`~twd_lab.embedding_detector.WindowTable`, gathered a batch at a time), ``array``
copies every training window out first (:func:`~twd_lab.embedding_detector.training_arrays`, 16
embeddings a window, as ``fit_heads`` did before). Both then train one head for one epoch. A child
reports its peak resident memory and how long the epoch took; the parent prints both and their ratio.

    python benchmarks/bench_head_memory.py                 # 2,000 clips (250,000 windows)
    python benchmarks/bench_head_memory.py --clips 6000 --json out.json

Memory is the figure; the seconds depend on whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _child(way: str, clips: int, seed: int) -> dict:
    import numpy as np

    from twd_lab import embedding_detector as D

    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(clips, 125, D.EMBEDDING_DIM)).astype(np.float32)
    ends = [[float(rng.uniform(1, 9))] if i % 2 else [] for i in range(clips)]
    data = D.EmbeddedClips(emb, ends)
    head = D.build_head(D.HISTORY)
    started = time.perf_counter()
    if way == "table":
        table = D.WindowTable(list(data.emb), D.HISTORY)
        rows, y, w = D.training_rows(table, data)
        D.train_head(head, table, y, w, rows=rows, epochs=1, seed=seed)
    else:
        X, y, w = D.training_arrays(data, history=D.HISTORY)
        D.train_head(head, X, y, w, epochs=1, seed=seed)
    return {
        "way": way,
        "clips": clips,
        "windows": len(y),
        "embeddings_mb": round(emb.nbytes / 1e6, 1),
        "epoch_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=2000, help="10 s clips of random embeddings (2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.clips < 1:
        ap.error(f"--clips must be at least 1, got {args.clips}")
    if args.child:
        print(json.dumps(_child(args.child, args.clips, args.seed)))
        return 0
    results = []
    for way in ("table", "array"):
        cmd = [sys.executable, __file__, "--child", way, "--clips", str(args.clips), "--seed", str(args.seed)]
        out = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if out.returncode:
            print(f"{way}: the child failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| windows | way | embeddings (MB) | peak resident (MB) | one epoch (s) |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['windows']:,} | {r['way']} | {r['embeddings_mb']} | {r['peak_rss_mb']} | {r['epoch_s']} |"
        )
    table, array = results
    print(f"array / table peak memory: {array['peak_rss_mb'] / table['peak_rss_mb']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
