"""Detection benchmark: real-time factor on a 60 s clip, streaming latency, start-up of `twd-lab detect`.

    python benchmarks/bench_detect.py              # about 1-2 minutes
    python benchmarks/bench_detect.py --json out.json
    /usr/bin/time -v python benchmarks/bench_detect.py --skip-startup   # with the peak memory

Measured in one run, after warm-up, as medians:

* every detector (:mod:`twd_lab.detectors`: the default speech-embedding detector and the lab network),
  through the one interface: a 60 s 16-bit WAV file detected as ``twd-lab detect`` does
  (:func:`twd_lab.detectors.detect_file`: read in blocks, streamed), its real-time factor (wall and CPU;
  targets: default detector <= 0.005, lab network <= 0.004), and compute per second of audio streaming
  at 0.25 s chunks (target <= 5 ms).

* ``detect``: :func:`twd_lab.detection.detect_triggerword` on 60 s of synthesized speech (one pass of
  any length: 8,265 output steps). Real-time factor = seconds of compute per second of audio (target
  <= 0.005). Baseline, the lab's way: the model built for 10 s (``Tx=5511``), and for each 10 s window
  ``plt.specgram`` then ``model.predict`` (issue 5 quotes about 0.017).
* streaming: :class:`twd_lab.streaming.StreamingDetector` fed 0.5 s (and 0.25, 0.1 s) chunks: compute per
  chunk, and the latency from a sample arriving to the decision that includes it: waiting for the chunk to
  fill (0 to chunk_s, chunk_s/2 on average) plus the compute. Also how far the stream's probabilities are
  from the whole-file pass.
* start-up: wall time of ``twd-lab detect FILE --json`` on a 10 s file in a fresh process, of
  ``twd-lab --help``, and of ``import tensorflow`` alone (its share of the start-up).

The shipped model is used when it exists; otherwise a model with random weights (speed does not depend
on the weights). Other load on the machine shows in the wall times: compare the ratios of one run, and the
CPU times (this process's threads only), which load does not inflate and which bound the wall time on an
idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from twd_lab.constants import CLIP_SAMPLES, LAB_FS, NFFT, NOVERLAP, PCM16_SCALE, SAMPLE_RATE, TX

SECONDS = 60


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_cpu_time(fn, repeat: int) -> float:
    """CPU seconds of this process (all its threads) per call: what load from other processes does not inflate.

    On an idle machine the wall time is at most this (more than one thread only shortens it)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def sixty_seconds(seed: int = 0) -> np.ndarray:
    """60 s of speech-like audio: six synthesized 10 s examples from the bundled voices, end to end."""
    try:
        from twd_lab.audio import load_raw_audio
        from twd_lab.synthesis import synthesize_example

        acts, negs, bgs = load_raw_audio(None, as_arrays=True)
        rng = np.random.default_rng(seed)
        parts = [
            synthesize_example(bgs[i % len(bgs)], acts, negs, rng=rng).audio for i in range(SECONDS // 10)
        ]
        return np.concatenate(parts)
    except (FileNotFoundError, ValueError):
        return (np.random.default_rng(seed).standard_normal(SECONDS * SAMPLE_RATE) * 0.1).astype(np.float32)


def get_model():
    from twd_lab.assets_index import model_path
    from twd_lab.models import build_model, load_model

    try:
        return load_model(model_path()), "shipped"
    except FileNotFoundError:
        import keras

        keras.utils.set_random_seed(0)
        return build_model("functional", input_length=None), "random weights (no shipped model)"


# ----------------------------------------------------------------------------------------- detect


def bench_detect(model, audio: np.ndarray, repeat: int) -> dict:
    from twd_lab.inference import chunked_model

    from twd_lab.detection import detect_triggerword, preprocess_audio
    from twd_lab.spectrogram import spectrogram

    detect_triggerword(audio, model)  # warm-up: loads, compiles
    seconds = audio.size / SAMPLE_RATE
    total = median_time(lambda: detect_triggerword(audio, model), repeat)
    cpu = median_cpu_time(lambda: detect_triggerword(audio, model), repeat)
    runner = chunked_model(model)
    clip = preprocess_audio(audio)
    frames = spectrogram(clip * np.float32(PCM16_SCALE)).T
    norm, _ = runner.normalize(frames)
    parts = {
        "preprocess_s": median_time(lambda: preprocess_audio(audio), repeat),
        "spectrogram_s": median_time(lambda: spectrogram(clip * np.float32(PCM16_SCALE)), repeat),
        "normalize_s": median_time(lambda: runner.normalize(frames), repeat),
        "network_s": median_time(lambda: runner.run(norm, *runner.initial_state()), repeat),
    }
    return {
        "audio_s": seconds,
        "steps": int(detect_triggerword(audio, model).size),
        "detect_s": total,
        "rtf": total / seconds,
        "cpu_s": cpu,
        "cpu_rtf": cpu / seconds,
        **{k: round(v, 4) for k, v in parts.items()},
    }


def bench_lab(model, audio: np.ndarray, repeat: int) -> dict:
    """The lab's detect_triggerword, window by window: plt.specgram, then model.predict on (1, 5511, 101)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import mlab

    from twd_lab.models import build_model, copy_weights

    lab_model = copy_weights(model, build_model("functional", input_length=TX))
    windows = [audio[a : a + CLIP_SAMPLES] for a in range(0, audio.size - CLIP_SAMPLES + 1, CLIP_SAMPLES)]

    def lab_detect():
        out = []
        for w in windows:
            # the values of the lab's plt.specgram(x, 200, 8000, noverlap=120)
            x = mlab.specgram(w * PCM16_SCALE, NFFT=NFFT, Fs=LAB_FS, noverlap=NOVERLAP)[0]
            out.append(lab_model.predict(x.T[None].astype(np.float32), verbose=0))
        return out

    lab_detect()  # warm-up
    total = median_time(lab_detect, repeat)
    cpu = median_cpu_time(lab_detect, repeat)
    seconds = len(windows) * 10.0
    return {
        "windows": len(windows),
        "lab_s": total,
        "lab_rtf": total / seconds,
        "lab_cpu_s": cpu,
        "lab_cpu_rtf": cpu / seconds,
    }


# -------------------------------------------------------------------------------------- streaming


def bench_streaming(model, audio: np.ndarray) -> dict:
    from twd_lab.streaming import StreamingDetector

    from twd_lab.detection import detect_triggerword, preprocess_audio, triggers

    clip = preprocess_audio(audio)
    whole = detect_triggerword(clip, model)
    results = {}
    for chunk_s in (0.5, 0.25, 0.1):
        det = StreamingDetector(model, chunk_s=chunk_s)
        det.process(clip)
        compute = np.asarray(det.compute_s[1:])  # the first chunk of a fresh detector also fills buffers
        same = [t.time_s for t in det.triggers] == [t.time_s for t in triggers(whole)]
        results[f"{chunk_s:g}"] = {
            "chunks": len(det.compute_s),
            "compute_median_ms": round(1000 * float(np.median(compute)), 2),
            "compute_p95_ms": round(1000 * float(np.percentile(compute, 95)), 2),
            "compute_max_ms": round(1000 * float(compute.max()), 2),
            "latency_mean_s": round(chunk_s / 2 + float(np.mean(compute)), 4),
            "latency_max_s": round(chunk_s + float(compute.max()), 4),
            "max_abs_diff_vs_whole_file": float(np.abs(det.probabilities - whole).max()),
            "same_triggers_as_whole_file": same,
        }
    return results


# -------------------------------------------------------------------------------------- detectors


def bench_detectors(audio: np.ndarray, repeat: int) -> dict:
    """Each detector through the one interface: a file as `twd-lab detect` reads it, and a 0.25 s stream."""
    from twd_lab.audio import write_wav
    from twd_lab.detectors import detect_file, load_detector
    from twd_lab.detectors.files import embedding_detector_available

    kinds = ["embedding", "lab"] if embedding_detector_available() else ["lab"]
    seconds = audio.size / SAMPLE_RATE
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "sixty_seconds.wav", audio)
        for kind in kinds:
            det, _ = load_detector(kind)
            det.warm_up()
            detect_file(wav, det)  # warm-up: loads, compiles
            wall = median_time(lambda d=det: detect_file(wav, d), repeat)
            cpu = median_cpu_time(lambda d=det: detect_file(wav, d), repeat)
            n = round(0.25 * SAMPLE_RATE)
            stream = det.stream()
            stream.feed(audio[:n])  # the first chunk of a fresh stream also fills its buffers
            stream.compute_s = 0.0
            t0 = time.process_time()
            for a in range(n, audio.size, n):
                stream.feed(audio[a : a + n])
            stream_cpu = time.process_time() - t0
            streamed = (audio.size - n) / SAMPLE_RATE
            out[kind] = {
                "file_s": round(wall, 3),
                "file_rtf": round(wall / seconds, 5),
                "file_cpu_rtf": round(cpu / seconds, 5),
                "stream_ms_per_s": round(1000 * stream.compute_s / streamed, 2),
                "stream_cpu_ms_per_s": round(1000 * stream_cpu / streamed, 2),
            }
    return out


def bench_embedding_front_end(audio: np.ndarray, repeat: int) -> dict:
    """The embedding network three ways on the same mel frames, interleaved in one run (CPU ms per second of
    audio): window by window (the shipped ONNX model, 76 frames a call), the sliding model (time axis
    opened: a file's windows in calls of 64), and stage by stage as a 0.25 s stream feeds it."""
    from twd_lab.detectors import speech_embedding as E

    frames = E.mel_frames(E.to_16k(audio, SAMPLE_RATE))
    seconds = audio.size / SAMPLE_RATE
    _, windowed, sliding = E._sessions()
    if sliding is None or E._stage_sessions() is None:
        return {}
    per_chunk = 25  # mel frames in 0.25 s

    def staged():
        embedder = E.FrameEmbedder()
        for a in range(0, len(frames), per_chunk):
            embedder.feed(frames[a : a + per_chunk])

    def windows_streamed():  # what a stream did before: each chunk's new windows, 76 frames each
        embedder = E.FrameEmbedder()
        embedder._stages = None
        for a in range(0, len(frames), per_chunk):
            embedder.feed(frames[a : a + per_chunk])

    runs = {
        "file_windows": lambda: E._embed_windows(windowed, frames),
        "file_sliding": lambda: E._embed_sliding(sliding, frames),
        "stream_windows": windows_streamed,
        "stream_staged": staged,
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeat):  # interleaved, so load from other processes falls on all alike
        for k, fn in runs.items():
            t0 = time.process_time()
            fn()
            times[k].append(time.process_time() - t0)
    return {k: round(1000 * statistics.median(v) / seconds, 3) for k, v in times.items()}


# ---------------------------------------------------------------------------------------- start-up


def wall(cmd: list[str], repeat: int, env=None) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


#: One fresh process doing what `twd-lab detect` does, stage by stage, printing the seconds of each.
STAGES = """
import time, json, sys
t0 = time.perf_counter()
import twd_lab.cli, twd_lab.detection, twd_lab.file_detection
t1 = time.perf_counter()
import tensorflow, keras
t2 = time.perf_counter()
from twd_lab.inference import load_keras_model
model = load_keras_model(sys.argv[2])
t3 = time.perf_counter()
twd_lab.file_detection.detect_file(sys.argv[1], model)
t4 = time.perf_counter()
twd_lab.file_detection.detect_file(sys.argv[1], model)
t5 = time.perf_counter()
print(json.dumps({"import_twd_lab_s": t1 - t0, "import_tensorflow_keras_s": t2 - t1, "load_model_s": t3 - t2,
                  "first_detect_compiles_s": t4 - t3, "second_detect_s": t5 - t4}))
"""


def bench_startup(model, repeat: int) -> dict:
    from twd_lab.audio import write_wav

    exe = shutil.which("twd-lab")
    cli = [exe] if exe else [sys.executable, "-m", "twd_lab.cli"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "ten_seconds.wav"
        write_wav(wav, sixty_seconds(1)[:CLIP_SAMPLES])
        model_file = Path(tmp) / "model.keras"
        model.save(model_file)
        detect = wall([*cli, "detect", str(wav), "--json", "--model", str(model_file)], repeat)
        stages = json.loads(
            subprocess.run(
                [sys.executable, "-c", STAGES, str(wav), str(model_file)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
    return {
        "twd_lab_detect_10s_file_s": round(detect, 3),
        "stages_in_one_process_s": {k: round(v, 3) for k, v in stages.items()},
        "twd_lab_help_s": round(wall([*cli, "--help"], repeat), 3),
        "python_s": round(wall([sys.executable, "-c", "pass"], repeat), 3),
        "import_tensorflow_s": round(wall([sys.executable, "-c", "import tensorflow"], repeat, env), 3),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (5)")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args(argv)

    model, which = get_model()
    audio = sixty_seconds()
    print(f"model: {which}; audio: {audio.size / SAMPLE_RATE:.0f} s; load average {os.getloadavg()[0]:.1f}")
    detectors = bench_detectors(audio, args.repeat)
    for kind, r in detectors.items():
        print(
            f"{kind} detector, 60 s file as `twd-lab detect` reads it: {r['file_s']:.2f} s, RTF {r['file_rtf']:.4f} "
            f"(CPU {r['file_cpu_rtf']:.4f}; target {'0.005' if kind == 'embedding' else '0.004'}); "
            f"streaming 0.25 s chunks: {r['stream_ms_per_s']:.1f} ms per s of audio "
            f"(CPU {r['stream_cpu_ms_per_s']:.1f}; target 5)"
        )
    front = bench_embedding_front_end(audio, args.repeat)
    if front:
        print(
            "embedding network, CPU ms per s of audio: file "
            f"{front['file_windows']:.2f} window by window -> {front['file_sliding']:.2f} sliding "
            f"({front['file_windows'] / front['file_sliding']:.1f}x); 0.25 s stream "
            f"{front['stream_windows']:.2f} -> {front['stream_staged']:.2f} stage by stage "
            f"({front['stream_windows'] / front['stream_staged']:.1f}x)"
        )
    ours = bench_detect(model, audio, args.repeat)
    lab = bench_lab(model, audio, max(1, args.repeat // 2))
    print(
        f"detect, 60 s: {ours['detect_s']:.3f} s, RTF {ours['rtf']:.4f} (target <= 0.005); "
        f"lab's predict on 10 s windows: {lab['lab_s']:.3f} s, RTF {lab['lab_rtf']:.4f}; "
        f"{lab['lab_rtf'] / ours['rtf']:.1f}x faster"
    )
    print(
        f"  CPU time (all threads; other load does not inflate it): ours {ours['cpu_s']:.3f} s = "
        f"{ours['cpu_rtf']:.4f} s per s of audio, the lab's {lab['lab_cpu_s']:.3f} s = {lab['lab_cpu_rtf']:.4f}"
    )
    print(
        f"  of which: preprocess {ours['preprocess_s']:.3f} s, spectrogram {ours['spectrogram_s']:.3f} s, "
        f"normalise {ours['normalize_s']:.3f} s, network {ours['network_s']:.3f} s ({ours['steps']} steps)"
    )
    stream = bench_streaming(model, audio)
    for chunk, r in stream.items():
        print(
            f"streaming, {chunk} s chunks: compute {r['compute_median_ms']:.1f} ms median, "
            f"{r['compute_max_ms']:.1f} ms max; latency {r['latency_mean_s']:.3f} s mean, "
            f"{r['latency_max_s']:.3f} s max; max |p - whole file| {r['max_abs_diff_vs_whole_file']:.1e}; "
            f"same triggers: {r['same_triggers_as_whole_file']}"
        )
    result = {
        "model": which,
        "load_average": os.getloadavg()[0],
        "detectors": detectors,
        "embedding_network_ms_per_s": front,
        "detect": ours,
        "lab": lab,
        "streaming": stream,
    }
    if not args.skip_startup:
        start = bench_startup(model, max(1, args.repeat // 2))
        result["startup"] = start
        print(
            f"start-up: `twd-lab detect` on a 10 s file {start['twd_lab_detect_10s_file_s']:.2f} s, of which "
            f"`import tensorflow` {start['import_tensorflow_s']:.2f} s "
            f"({100 * start['import_tensorflow_s'] / start['twd_lab_detect_10s_file_s']:.0f}%); "
            f"`twd-lab --help` {start['twd_lab_help_s']:.2f} s (python alone {start['python_s']:.2f} s)"
        )
        print(
            "  stages in one process: "
            + ", ".join(f"{k} {v:.2f}" for k, v in start["stages_in_one_process_s"].items())
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
