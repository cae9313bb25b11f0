"""Core benchmark: the lab's way and ours, side by side, in one run.

    python benchmarks/bench_core.py            # about 1-3 minutes; builds 4,000 examples in a temp dir
    python benchmarks/bench_core.py --m 500    # fewer examples
    python benchmarks/bench_core.py --raw ../shared/real_speech/coursera

Lab-style baseline (the course's code, kept here only to measure): pydub overlay, export ``train.wav``,
read it back, ``plt.specgram`` on the Agg backend (whose figure is never closed). Ours:
:func:`twd_lab.spectrogram.spectrogram`, :func:`twd_lab.synthesis.create_training_example` and
:func:`twd_lab.dataset.build_dataset`. Timings are medians of calls made in turns (bursts of 5
back-to-back calls of lab and ours), so load on the machine hits both alike; compare the ratios of one
run. Ours uses :func:`twd_lab.spectrogram.default_workers` threads
per spectrogram (both cores here; rows with "1 thread" show one core alone). Targets (issue 2): spectrogram >= 20x the lab's graph_spectrogram and
>= 5x mlab.specgram; a training example >= 20x the lab path; 4,000 examples < 30 s and < 2 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import mlab
from scipy.io import wavfile

from twd_lab.audio import load_raw_audio, to_segment, write_wav
from twd_lab.constants import TY
from twd_lab.spectrogram import default_workers, graph_spectrogram, spectrogram
from twd_lab.synthesis import create_training_example, synthesize_example, training_x

PAGE = os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------- the lab, as written


def lab_graph_spectrogram(wav_file):
    _rate, data = wavfile.read(wav_file)
    nfft, fs, noverlap = 200, 8000, 120
    # the lab passed NFFT and Fs positionally (deprecated in Matplotlib 3.10); same call by keyword
    if data.ndim == 1:
        pxx, _freqs, _bins, _im = plt.specgram(data, NFFT=nfft, Fs=fs, noverlap=noverlap)
    else:
        pxx, _freqs, _bins, _im = plt.specgram(data[:, 0], NFFT=nfft, Fs=fs, noverlap=noverlap)
    return pxx


def lab_match_target_amplitude(sound, target_dbfs):
    return sound.apply_gain(target_dbfs - sound.dBFS)


def lab_get_random_time_segment(segment_ms):
    start = np.random.randint(low=0, high=10000 - segment_ms)
    return start, start + segment_ms - 1


def lab_is_overlapping(segment_time, previous_segments):
    start, end = segment_time
    return any(start <= pe and end >= ps for ps, pe in previous_segments)


def lab_insert_audio_clip(background, audio_clip, previous_segments):
    segment_ms = len(audio_clip)
    segment_time = lab_get_random_time_segment(segment_ms)
    retry = 5  # the lab's later version; its first version looped forever
    while lab_is_overlapping(segment_time, previous_segments) and retry >= 0:
        segment_time = lab_get_random_time_segment(segment_ms)
        retry -= 1
    if not lab_is_overlapping(segment_time, previous_segments):
        previous_segments.append(segment_time)
        return background.overlay(audio_clip, position=segment_time[0]), segment_time
    return background, (10000, 10000)


def lab_insert_ones(y, segment_end_ms):
    e = int(segment_end_ms * TY / 10000.0)
    for i in range(e + 1, e + 51):
        if i < TY:
            y[0, i] = 1
    return y


def lab_create_training_example(background, activates, negatives, workdir: Path):
    background = background - 20
    y = np.zeros((1, TY))
    previous_segments = []
    for pool, n in ((activates, np.random.randint(0, 5)), (negatives, np.random.randint(0, 3))):
        for i in np.random.randint(len(pool), size=n):
            background, segment_time = lab_insert_audio_clip(background, pool[i], previous_segments)
            if pool is activates:
                y = lab_insert_ones(y, segment_time[1])
    background = lab_match_target_amplitude(background, -20.0)
    background.export(workdir / "train.wav", format="wav")
    return lab_graph_spectrogram(str(workdir / "train.wav")), y


# ----------------------------------------------------------------------------------------- measuring


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def interleaved_ms(fns: dict, repeat: int, burst: int = 5, warmup: int = 2) -> dict[str, tuple[float, float]]:
    """Median wall and CPU time of this process (ms) per call of each function, ``repeat`` calls each.

    The candidates take turns in bursts of ``burst`` back-to-back calls (as in a loop that builds
    examples), so that a change in the machine's load during the run hits every candidate alike and the
    ratios stay fair: on this shared 2-core machine, long blocks of one candidate were not. (Called
    singly after other work, a two-thread spectrogram first waits for the second core to wake: about
    as slow as one thread.)
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(max(1, repeat // burst)):
        for name, fn in fns.items():
            for _ in range(burst):
                t, c = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
    return {name: (1e3 * float(np.median(wall[name])), 1e3 * float(np.median(cpu[name]))) for name in fns}


def tree_rss_mb(root: int) -> float:
    """RSS of ``root`` and all its descendants (shared pages counted in each: an upper bound)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(rss_mb(p) for p in tree)


def build_in_subprocess(out: Path, m: int, raw: str | None) -> dict:
    code = (
        "import json, sys, time\n"
        "from twd_lab.dataset import build_dataset\n"
        "t = time.perf_counter()\n"
        f"info = build_dataset({str(out)!r}, {m}, raw={raw!r}, seed=0, progress=False)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'workers': info.workers}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    peak = [0.0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            stop.wait(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    stdout, _ = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build and its workers, once waited for
    wall = time.perf_counter() - t
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    cpu = user + system
    stop.set()
    watcher.join()
    if proc.returncode:
        raise SystemExit(f"build_dataset failed with exit code {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "wall": wall, "cpu": cpu, "system": system, "peak_mb": peak[0]}


def synthetic_raw(root: Path) -> Path:
    """Noise backgrounds and tone-burst 'words' in a lab-style folder (when no assets are given)."""
    rng = np.random.default_rng(0)
    for sub in ("activates", "negatives", "backgrounds"):
        (root / sub).mkdir(parents=True)
    t = np.arange(int(2.4 * 44100)) / 44100
    for i in range(6):
        n = int(rng.uniform(0.5, 1.2) * 44100)
        word = 0.5 * np.sin(2 * np.pi * rng.uniform(200, 900) * t[:n]) * np.hanning(n)
        write_wav(root / "activates" / f"{i}.wav", word)
        write_wav(root / "negatives" / f"{i}.wav", rng.standard_normal(n // 2) * 0.2 * np.hanning(n // 2))
    for i in range(3):
        write_wav(root / "backgrounds" / f"{i}.wav", rng.standard_normal(441000) * 0.1)
    return root


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=4000, help="examples to build (default 4000; 0 skips)")
    ap.add_argument("--raw", default=None, help="lab-style folder (default: bundled assets, else synthetic)")
    ap.add_argument("--repeat", type=int, default=30, help="timed repeats per measurement")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="twd-bench-"))
    try:
        raw = args.raw
        if raw is None:
            try:
                from twd_lab.assets_index import bundled_raw_dir

                raw = str(bundled_raw_dir())
                load_raw_audio(raw, as_arrays=True)
            except Exception as exc:  # noqa: BLE001 - any failure: fall back to synthetic clips
                print(f"(bundled assets unavailable: {exc}; using synthetic clips)")
                raw = str(synthetic_raw(work / "raw"))
        print(f"clips: {raw}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start\n")
        activates, negatives, backgrounds = load_raw_audio(raw, as_arrays=True)
        seg_act, seg_neg = [to_segment(a) for a in activates], [to_segment(n) for n in negatives]
        seg_bg = to_segment(backgrounds[0])

        audio = synthesize_example(backgrounds[0], activates, negatives, rng=0).audio
        wav = write_wav(work / "example.wav", audio)
        pcm = audio * np.float32(32768)
        r = args.repeat
        rows = []

        scratch = np.empty(audio.shape, np.float32)
        seeds = iter(range(10**6))

        def one_thread_example():  # create_training_example with the spectrogram on this thread only
            ex = synthesize_example(backgrounds[0], activates, negatives, rng=next(seeds), _audio_out=scratch)
            return training_x(ex.audio, workers=1), ex.y

        spec = interleaved_ms(
            {
                "lab": lambda: lab_graph_spectrogram(str(wav)),
                "mlab": lambda: mlab.specgram(pcm, NFFT=200, Fs=8000, noverlap=120),
                "ours": lambda: spectrogram(pcm),
                "ours1": lambda: spectrogram(pcm, workers=1),
                "ours64": lambda: spectrogram(pcm, dtype=np.float64),
                "ours_gs": lambda: graph_spectrogram(str(wav), plot=False),
            },
            r,
        )
        plt.close("all")
        np.random.seed(0)
        examples = interleaved_ms(
            {
                "lab": lambda: lab_create_training_example(seg_bg, seg_act, seg_neg, work),
                "ours": lambda: create_training_example(
                    backgrounds[0], activates, negatives, rng=next(seeds)
                ),
                "ours1": one_thread_example,
                "ours_seg": lambda: create_training_example(seg_bg, seg_act, seg_neg, rng=next(seeds)),
            },
            r,
        )
        plt.close("all")
        lab_gs, mlab_t, ours, ours1, ours64, ours_gs = spec.values()
        lab_ex, our_ex, our_ex1, our_seg = examples.values()
        threads = default_workers()
        rows = [
            ("lab graph_spectrogram(10 s WAV)", lab_gs, None, None),
            ("mlab.specgram(10 s)", mlab_t, None, None),
            (f"ours spectrogram(10 s), float32, {threads} threads", ours, lab_gs, mlab_t),
            ("ours spectrogram(10 s), float32, 1 thread", ours1, lab_gs, mlab_t),
            ("ours spectrogram(10 s), float64", ours64, lab_gs, mlab_t),
            ("ours graph_spectrogram(WAV, plot=False)", ours_gs, lab_gs, mlab_t),
            ("lab create_training_example (pydub, train.wav, specgram)", lab_ex, None, None),
            (f"ours create_training_example (arrays), {threads} threads", our_ex, lab_ex, None),
            ("ours create_training_example (arrays), 1 thread", our_ex1, lab_ex, None),
            ("ours create_training_example (AudioSegments in)", our_seg, lab_ex, None),
        ]
        print(f"{'':60s} {'wall ms':>8s} {'cpu ms':>7s} | {'x lab':>13s} {'x mlab':>13s}")
        print(f"{'':60s} {'':8s} {'':7s} | {'wall   cpu':>13s} {'wall   cpu':>13s}")
        for name, (wall, cpu), lab_ref, mlab_ref in rows:

            def ratio(ref, wall=wall, cpu=cpu):
                return f"{ref[0] / wall:5.1f}x {ref[1] / cpu:5.1f}x" if ref else ""

            print(f"{name:60s} {wall:8.2f} {cpu:7.2f} | {ratio(lab_ref):>13s} {ratio(mlab_ref):>13s}")
        met = {True: "met", False: "MISSED"}
        print(
            f"\ntargets in wall time (issue 2): spectrogram >= 20x lab: {lab_gs[0] / ours[0]:.1f}x "
            f"{met[lab_gs[0] / ours[0] >= 20]}; >= 5x mlab: {mlab_t[0] / ours[0]:.1f}x "
            f"{met[mlab_t[0] / ours[0] >= 5]}; training example >= 20x lab: {lab_ex[0] / our_ex[0]:.1f}x "
            f"{met[lab_ex[0] / our_ex[0] >= 20]}  (ours on {threads} threads; cpu ms adds up all threads)"
        )

        def faults_per_call(fn, calls=20):  # new pages touched: a fresh multi-MB temporary shows up here
            fn()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(calls):
                fn()
            return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls

        print(
            f"page faults per call: ours spectrogram {faults_per_call(lambda: spectrogram(pcm)):.0f}, "
            f"ours create_training_example "
            f"{faults_per_call(lambda: create_training_example(backgrounds[0], activates, negatives, rng=1)):.0f}, "
            f"lab graph_spectrogram {faults_per_call(lambda: lab_graph_spectrogram(str(wav))):.0f}"
        )
        plt.close("all")

        # the lab's figure leak: memory still held after each graph_spectrogram call (tracemalloc sees
        # NumPy's buffers; the figure keeps one 101 x 5511 image per call)
        def kept_mb(fn, calls=10):
            fn()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(calls):
                fn()
            gc.collect()  # figures are reference cycles: what the collector frees was not kept
            kept = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            return kept / calls / 2**20

        lab_leak = kept_mb(lambda: lab_graph_spectrogram(str(wav)))
        plt.close("all")
        our_leak = kept_mb(lambda: graph_spectrogram(str(wav)))
        print(
            f"\nmemory kept per graph_spectrogram call (plot=True): lab {lab_leak:.1f} MB, ours {our_leak:.2f} MB"
        )

        if args.m > 0:
            out = work / "dataset"
            res = build_in_subprocess(out, args.m, raw)
            gb = args.m * (5511 * 101 + TY) * 4 / 1e9
            print(
                f"\nbuild_dataset({args.m}) with {res['workers']} workers: {res['seconds']:.1f} s wall, "
                f"{res['cpu']:.1f} s CPU in all processes ({res['system']:.1f} s of it in the kernel, writing) "
                f"({1e3 * res['seconds'] / args.m:.1f} ms/example, {gb / res['seconds']:.2f} GB/s of float32 "
                f"written, {gb:.1f} GB), process start to exit {res['wall']:.1f} s; "
                f"peak RSS of the process tree {res['peak_mb']:.0f} MB"
            )
            print(
                f"  lab path for {args.m} examples, one at a time: about {lab_ex[0] * args.m / 1e3:.0f} s "
                f"and {lab_leak * args.m / 1e3:.1f} GB of leaked figures"
            )
            targets = res["seconds"] < 30 * args.m / 4000, res["peak_mb"] < 2048
            print(
                f"  targets (< {30 * args.m / 4000:.0f} s, < 2 GB): {['missed', 'met'][targets[0]]}, "
                f"{['missed', 'met'][targets[1]]}"
            )
        print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
