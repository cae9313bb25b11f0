"""Any length in bounded memory: peak RSS and time of `twd-lab detect` on long files, chunked vs whole.

    python benchmarks/bench_long_files.py                       # 10 min and 1 s files, both detectors
    python benchmarks/bench_long_files.py --minutes 10 180      # also a 3 h file (950 MB, written once)
    python benchmarks/bench_long_files.py --chunked-only        # only: 30 s pieces streamed vs the whole

Files are 16-bit mono 44.1 kHz speech-like audio (synthesized 10 s lab examples from the bundled voices,
60 of them, repeated), written once under ``--dir`` (default ``/tmp/twd_lab_long``; never in the repository).
Each detection runs in a fresh process under ``/usr/bin/time -v``: its peak RSS ("Maximum resident set
size") and wall time are printed, with the targets of issue 13:

* default (speech-embedding) detector: peak RSS <= 400 MB on a 3 h file;
* lab network: at most 150 MB above the same command on a 1 s file;
* the same triggers when the file is cut into 30 s pieces and the pieces are streamed one after the other
  into one detector stream (:func:`twd_lab.detectors.detect_blocks`) as when the whole file is detected.

Nothing here is a timed test: it prints figures of one run. Other load on the machine shows in wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 44_100


def make_file(path: Path, seconds: float) -> Path:
    """A 16-bit mono 44.1 kHz file of ``seconds`` (60 synthesized examples, repeated), written in blocks."""
    if path.is_file():
        return path
    import soundfile as sf

    from twd_lab.audio import load_raw_audio
    from twd_lab.synthesis import synthesize_example

    acts, negs, bgs = load_raw_audio(None, as_arrays=True)
    rng = np.random.default_rng(0)
    n_clips = min(60, max(1, int(np.ceil(seconds / 10))))
    clips = [synthesize_example(bgs[i % len(bgs)], acts, negs, rng=rng).audio for i in range(n_clips)]
    block = np.concatenate(clips)
    total = round(seconds * SR)
    tmp = path.with_suffix(".partial.wav")
    with sf.SoundFile(tmp, "w", SR, 1, subtype="PCM_16") as f:
        written = 0
        while written < total:
            part = block[: total - written]
            f.write(part)
            written += part.size
    tmp.rename(path)
    return path


def peak_rss(cmd: list[str], env=None, cwd=None) -> dict:
    """Run ``cmd`` under /usr/bin/time -v: peak RSS (MB), wall and CPU seconds, and its stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as log:
        t0 = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-v", "-o", log.name, *cmd],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            check=False,  # a failed run is reported with its status
        )
        wall = time.perf_counter() - t0
        text = Path(log.name).read_text()
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return {
        "rc": out.returncode,
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "wall_s": round(wall, 1),
        "cpu_s": round(user + system, 1),
        "stdout": out.stdout,
        "stderr": out.stderr[-500:],
    }


def detect_cmd(path: Path, detector: str) -> list[str]:
    return [sys.executable, "-m", "twd_lab.cli", "detect", str(path), "--json", "--detector", detector]


def chunked_vs_whole(path: Path, detector: str, piece_s: float = 30.0) -> dict:
    """Triggers of the whole file vs its 30 s pieces streamed one after another into one stream."""
    import soundfile as sf
    from twd_lab.file_detection import detect_file

    from twd_lab.detectors import detect_blocks, load_detector

    det, _ = load_detector(detector)
    whole = detect_file(path, det)["triggers"]
    with tempfile.TemporaryDirectory() as tmp:
        pieces = []
        with sf.SoundFile(path) as f:
            for i, block in enumerate(f.blocks(round(piece_s * f.samplerate), dtype="int16")):
                piece = Path(tmp) / f"piece_{i:04d}.wav"
                sf.write(piece, block, f.samplerate, subtype="PCM_16")
                pieces.append(piece)
        streamed = detect_blocks(det, pieces)["triggers"]
    same = [t["time_s"] for t in whole] == [t["time_s"] for t in streamed]
    return {"pieces": len(pieces), "whole": len(whole), "streamed": len(streamed), "same_triggers": same}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0], help="file lengths (10)")
    p.add_argument("--detectors", nargs="+", default=["embedding", "lab"], choices=("embedding", "lab"))
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "twd_lab_long")
    p.add_argument("--chunked-only", action="store_true", help="only compare 30 s pieces with the whole")
    p.add_argument("--code", type=Path, default=ROOT, help="the twd_lab checkout to run (e.g. an older one)")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(args.code.resolve()), "TF_CPP_MIN_LOG_LEVEL": "2"}
    results: dict = {"load_average": os.getloadavg()[0]}
    one = make_file(args.dir / "one_second.wav", 1.0)
    files = {m: make_file(args.dir / f"speech_{m:g}min.wav", 60 * m) for m in args.minutes}
    if args.chunked_only:
        for det in args.detectors:
            r = chunked_vs_whole(files[min(files)], det)
            results[f"chunked_{det}"] = r
            print(
                f"{det}: {r['pieces']} pieces of 30 s streamed vs whole: {r['streamed']} vs {r['whole']} "
                f"triggers, same: {r['same_triggers']}"
            )
    else:
        for det in args.detectors:
            base = peak_rss(detect_cmd(one, det), env, args.code)
            results[f"{det}_1s"] = base
            print(f"{det}, 1 s file: peak RSS {base['peak_rss_mb']:.0f} MB, {base['wall_s']:.1f} s")
            for m, f in files.items():
                r = peak_rss(detect_cmd(f, det), env, args.code)
                n = len(json.loads(r["stdout"])["triggers"]) if r["rc"] == 0 else None
                r["triggers"] = n
                r["rtf"] = round(r["wall_s"] / (60 * m), 4)
                results[f"{det}_{m:g}min"] = r
                above = r["peak_rss_mb"] - base["peak_rss_mb"]
                print(
                    f"{det}, {m:g} min: rc {r['rc']}, peak RSS {r['peak_rss_mb']:.0f} MB ({above:+.0f} MB over "
                    f"1 s), wall {r['wall_s']:.0f} s (RTF {r['rtf']:.4f}), CPU {r['cpu_s']:.0f} s, {n} triggers"
                )
    for r in results.values():
        if isinstance(r, dict):
            r.pop("stdout", None)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
