"""Training throughput of the lab network: the lab's TimeDistributed(Dense) output vs a plain Dense.

Each (output form, batch size) runs in its own Python process, so a run that runs out of memory is
reported instead of killing the benchmark; the parent watches each child's resident memory and stops
it above ``--mem-limit-gb``. A child builds the 10 s model (``build_model("functional")``), compiles it
with the lab's optimizer and trains on random inputs shaped like real ones: it reports the first
step (tracing and compiling included), the steady examples/s over ``--steps`` further steps, and its
peak resident memory.

    python benchmarks/bench_training.py                      # both forms at batch 16 and 32, 3 steps
    python benchmarks/bench_training.py --forms dense --batches 32 --steps 10 --json out.json
    KERAS_BACKEND=torch python benchmarks/bench_training.py  # another Keras backend (GPU machine)

Timings depend on the machine and on whatever else runs on it; compare forms within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _child(form: str, batch: int, steps: int, seed: int) -> dict:
    import numpy as np

    t_import = time.perf_counter()
    import keras

    from twd_lab.constants import N_FREQ, TX, TY
    from twd_lab.models import build_model, compile_model

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 100.0, size=(batch, TX, N_FREQ)).astype("float32")
    y = (rng.random((batch, TY, 1)) < 0.07).astype("float32")
    model = compile_model(build_model("functional", output_layer=form))
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    steady = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict_on_batch(x[:1])
    t1 = time.perf_counter()
    model.predict_on_batch(x[:1])
    predict_1 = time.perf_counter() - t1
    import resource

    return {
        "backend": keras.backend.backend(),
        "form": form,
        "batch": batch,
        "steps": steps,
        "params": model.count_params(),
        "first_step_s": first,
        "step_s": steady / steps,
        "examples_per_s": batch * steps / steady,
        "predict_one_clip_s": predict_1,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "import_s": t0 - t_import,
        "loss": float(np.ravel(loss)[0]),
    }


def _rss_gb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _mem_available_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def run_one(form: str, batch: int, steps: int, seed: int, mem_limit_gb: float, timeout_s: float) -> dict:
    """Run one configuration in a child process and return its measurements (or why it stopped)."""
    cmd = [sys.executable, __file__, "--child", form, str(batch), str(steps), str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, start, why = 0.0, time.perf_counter(), None
    while proc.poll() is None:
        peak = max(peak, _rss_gb(proc.pid))
        if peak > mem_limit_gb:
            why = f"stopped: resident memory passed {mem_limit_gb:.1f} GB (out of memory here)"
        elif time.perf_counter() - start > timeout_s:
            why = f"stopped: took longer than {timeout_s:.0f} s"
        if why:
            proc.kill()
            proc.wait()
            return {"form": form, "batch": batch, "error": why, "peak_rss_gb": peak}
        time.sleep(0.1)
    out, err = proc.communicate()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (err or out).strip().splitlines()[-3:]
        return {"form": form, "batch": batch, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    result = json.loads(lines[-1])
    result["peak_rss_gb"] = max(result["peak_rss_gb"], peak)
    return result


def format_table(results: list[dict]) -> str:
    rows = [
        "| output form | batch | first step (s) | s/step | examples/s | peak memory (GB) | predict 1 clip (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if "error" in r:
            rows.append(
                f"| {r['form']} | {r['batch']} | {r['error']} | | | {r.get('peak_rss_gb', 0):.1f} | |"
            )
        else:
            rows.append(
                f"| {r['form']} | {r['batch']} | {r['first_step_s']:.1f} | {r['step_s']:.2f} | "
                f"{r['examples_per_s']:.1f} | {r['peak_rss_gb']:.2f} | {1000 * r['predict_one_clip_s']:.0f} |"
            )
    ok = {(r["form"], r["batch"]): r for r in results if "error" not in r}
    for batch in sorted({r["batch"] for r in results}):
        fast, lab = ok.get(("dense", batch)), ok.get(("time_distributed", batch))
        if fast and lab:
            ratio = fast["examples_per_s"] / lab["examples_per_s"]
            rows.append(
                f"\nbatch {batch}: Dense trains {ratio:.1f}x the examples/s of TimeDistributed(Dense)"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        form, batch, steps, seed = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        print(json.dumps(_child(form, batch, steps, seed)), flush=True)
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--forms", nargs="+", default=["dense", "time_distributed"])
    parser.add_argument("--batches", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--steps", type=int, default=3, help="timed steps after the first (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--mem-limit-gb",
        type=float,
        default=None,
        help="stop a child above this resident memory (default: 70%% of the memory available now)",
    )
    parser.add_argument("--timeout-s", type=float, default=600.0, help="stop a child after this long")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    limit = args.mem_limit_gb if args.mem_limit_gb is not None else 0.7 * _mem_available_gb()
    print(
        f"backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, {os.cpu_count()} CPUs, memory limit {limit:.1f} GB"
    )
    results = []
    for form in args.forms:
        for batch in args.batches:
            r = run_one(form, batch, args.steps, args.seed, limit, args.timeout_s)
            print(json.dumps(r), flush=True)
            results.append(r)
    print(format_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
