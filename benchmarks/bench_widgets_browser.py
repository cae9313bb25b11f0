"""Browser-drawn widgets: how fast each control is answered, in the browser and through the kernel.

    nice python benchmarks/bench_widgets_browser.py   # a few minutes; needs chromium, playwright, voila

Two parts, measured in one run:

* **Kernel handlers**, in this process (no browser): the time a control's Python handler takes, as
  medians of ``--moves`` moves: SynthesisExplorer's seed (re-synthesize a 10 s clip and prepare it for the
  browser), DetectionDemo's clip (a clip heard for the first time by the lab network, and one heard
  before) and threshold, ThresholdExplorer's threshold. Target for controls that need the kernel:
  < 250 ms on 2 cores.
* **In the browser**: headless Debian Chromium on a Voilà page on 127.0.0.1, from the key, click, wheel
  or choice (its event, caught before the widget sees it) to the first frame that shows the answer
  (``performance.now()`` in the page, polled each frame): controls answered by the browser (target
  < 50 ms) and the round trip of those answered by the kernel (the key to the kernel's answer drawn).

Other load on the machine shows in every figure; compare the ratios printed beside them.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"

CELLS = [
    """\
import numpy as np
from twd_lab.constants import STEP_S, TY
from twd_lab.widgets import (AudioPlayer, DetectionDemo, KerasStylesStepper, SynthesisExplorer,
                             ThresholdExplorer)

rng = np.random.default_rng(0)
clips, ends = [], []
for i in range(100):
    p = rng.beta(1, 6, TY).astype(np.float32)
    e = [1.0 + (i % 20) * 0.4]
    p[int(e[0] / STEP_S) : int(e[0] / STEP_S) + 40] = rng.uniform(0.3, 0.99)
    clips.append(p); ends.append(e)
ThresholdExplorer(clips, ends, [10.0] * 100, threshold=0.3)""",
    "AudioPlayer(np.random.default_rng(1).normal(0, 0.05, 441_000).astype(np.float32), probs=clips[0])",
    "SynthesisExplorer(seed=0)",
    "DetectionDemo()",
    "KerasStylesStepper(input_length=200)",
]

# Arms a watch: the time of the next key, pointer, wheel or choice (caught before any widget sees it) and,
# for each JS expression given, the first frame where its value differs from now; window.__move holds
# {t0, times: [ms after t0, ...], done}.
ARM = """(exprs) => {
  const fns = exprs.map((e) => new Function(`return (${e});`));
  const before = fns.map((f) => f());
  const res = window.__move = {t0: null, times: exprs.map(() => null), done: false};
  const start = () => { if (res.t0 === null) res.t0 = performance.now(); };
  for (const ev of ["keydown", "pointerdown", "wheel", "input", "change"])
    document.addEventListener(ev, start, {capture: true, once: true});
  const tick = () => {
    if (res.t0 !== null) {
      const now = performance.now() - res.t0;
      fns.forEach((f, i) => { if (res.times[i] === null && f() !== before[i]) res.times[i] = now; });
    }
    if (res.times.every((x) => x !== null)) res.done = true; else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

PLAYER = "document.querySelectorAll('.twd-player')[{}].dataset.{}"
DET = "document.querySelector('.twd-det').dataset.{}"
DEMO_MESSAGE = (
    "[...document.querySelectorAll('.widget-html-content')].map((e) => e.innerText)"
    ".filter((t) => t.includes('steps of')).join()"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median_ms(times) -> float:
    return 1000 * statistics.median(times)


def kernel_handlers(moves: int) -> dict[str, float]:
    """Median ms of each control's Python handler (no browser)."""
    import numpy as np

    from twd_lab.constants import STEP_S, TY
    from twd_lab.widgets import DetectionDemo, SynthesisExplorer, ThresholdExplorer

    def timed(set_value, values):
        out = []
        for v in values:
            t0 = time.perf_counter()
            set_value(v)
            out.append(time.perf_counter() - t0)
        return median_ms(out)

    figures = {}
    explorer = SynthesisExplorer(seed=0)
    figures["SynthesisExplorer seed (re-synthesize)"] = timed(
        lambda v: setattr(explorer.seed, "value", v), range(1, moves + 1)
    )
    t0 = time.perf_counter()
    _ = explorer.png
    figures["(the static PNG it no longer draws on each move)"] = 1000 * (time.perf_counter() - t0)
    demo = DetectionDemo(examples=_many_examples(moves))
    names = list(demo.examples)
    figures["DetectionDemo clip, heard for the first time (lab network)"] = timed(
        lambda v: setattr(demo.source, "value", v), names[1:]
    )
    figures["DetectionDemo clip, heard before"] = timed(lambda v: setattr(demo.source, "value", v), names)
    figures["DetectionDemo threshold"] = timed(
        lambda v: setattr(demo.threshold, "value", v), np.linspace(0.3, 0.9, moves)
    )
    rng = np.random.default_rng(0)
    clips = [rng.beta(1, 6, TY).astype(np.float32) for _ in range(100)]
    ends = [[1.0 + (i % 20) * 0.4] for i in range(100)]
    for p, e in zip(clips, ends):
        p[int(e[0] / STEP_S) : int(e[0] / STEP_S) + 40] = 0.8
    te = ThresholdExplorer(clips, ends, [10.0] * 100)
    figures["ThresholdExplorer threshold (100 clips)"] = timed(
        lambda v: setattr(te.threshold, "value", v), np.linspace(0.3, 0.9, moves)
    )
    return figures


def _many_examples(n: int) -> dict:
    from twd_lab.widgets.detection_demo import heldout_examples

    return heldout_examples(seeds=tuple(range(1, n + 2)))


def browser_round_trips(moves: int) -> dict[str, tuple[float, float | None]]:
    """``{control: (browser ms, kernel round trip ms or None)}``, medians over ``moves`` moves."""
    import nbformat
    from playwright.sync_api import sync_playwright

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, Path(tmp) / "bench.ipynb")
        port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                "bench.ipynb",
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
                "--Voila.port_retries=0",
            ],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(240):
                try:
                    urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/voila/static/voila.js", timeout=2
                    ).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 1200})
                page.goto(f"http://127.0.0.1:{port}/", timeout=300_000)
                page.wait_for_selector(".twd-styles[data-drawn-at]", timeout=300_000)
                page.wait_for_function(
                    "() => document.querySelectorAll('.twd-player[data-drawn-at]').length === 3",
                    timeout=300_000,
                )

                def measure(exprs, act, n=moves):
                    out = []
                    for i in range(n):
                        page.evaluate(ARM, exprs)
                        act(i)
                        page.wait_for_function("() => window.__move.done", timeout=60_000)
                        out.append(page.evaluate("() => window.__move.times"))
                        page.wait_for_timeout(150)  # let the kernel's answers settle
                    return [statistics.median(t[k] for t in out) for k in range(len(exprs))]

                slider = lambda label, nth=0: page.locator(
                    f".widget-slider:has(.widget-label:text-is('{label}')) .noUi-handle"
                ).nth(nth)

                def key_on(handle, key="ArrowRight"):
                    def act(_):
                        handle.focus()
                        page.keyboard.press(key)

                    return act

                b, k = measure(
                    [DET.format("drawnThreshold"), DET.format("kernelThreshold")],
                    key_on(slider("threshold", 0)),
                )
                figures["ThresholdExplorer threshold: table, point and curve (browser) / kernel's answer"] = (
                    b,
                    k,
                )
                (b,) = measure([DET.format("scores")], key_on(slider("patience", 0)), n=min(moves, 5))
                figures["ThresholdExplorer patience: table, point and curve (browser)"] = (b, None)
                b, k = measure(
                    [PLAYER.format(2, "drawnThreshold"), DEMO_MESSAGE],
                    key_on(slider("threshold", 1), "ArrowLeft"),
                )
                figures["DetectionDemo threshold: line and detections (browser) / kernel's message"] = (b, k)
                (k,) = measure(
                    [PLAYER.format(1, "triggers") + " + " + PLAYER.format(1, "drawnAt")],
                    key_on(slider("seed")),
                )
                figures["SynthesisExplorer seed: new clip drawn (kernel round trip)"] = (None, k)
                clip = page.locator(".widget-dropdown:has(.widget-label:text-is('clip')) select")
                options = clip.locator("option").all_inner_texts()
                (k,) = measure(
                    [PLAYER.format(2, "drawnAt")],
                    lambda i: clip.select_option(label=options[(i + 1) % len(options)]),
                )
                figures[
                    "DetectionDemo clip: new clip drawn (kernel round trip; 3 clips, heard once each)"
                ] = (None, k)
                canvas = page.locator(".twd-player canvas").first
                canvas.scroll_into_view_if_needed()
                box = canvas.bounding_box()

                def wheel(i):
                    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 60)
                    page.keyboard.down("Control")
                    page.mouse.wheel(0, -200 if i % 2 == 0 else 200)
                    page.keyboard.up("Control")

                (b,) = measure([PLAYER.format(0, "view") + " + " + PLAYER.format(0, "drawnAt")], wheel)
                figures["AudioPlayer Ctrl+wheel zoom redrawn (browser)"] = (b, None)
                styles = page.locator(
                    ".widget-toggle-button:text-is('Functional'), .widget-toggle-button:text-is('Sequential')"
                )

                (b,) = measure(
                    ["document.querySelector('.twd-styles').dataset.drawnAt"],
                    lambda i: styles.nth((i + 1) % 2).click(),
                )
                figures["KerasStylesStepper style switched (browser)"] = (b, None)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="moves measured for each control (10)")
    parser.add_argument("--skip-browser", action="store_true", help="only the kernel handlers")
    args = parser.parse_args(argv)
    print(f"kernel handlers (median of {args.moves}; {os.cpu_count()} CPUs; target < 250 ms):")
    for name, ms in kernel_handlers(args.moves).items():
        print(f"  {name:62s} {ms:8.1f} ms")
    if args.skip_browser:
        return 0
    print(f"in the browser (median of {args.moves}; first frame showing the answer; browser target < 50 ms):")
    for name, (b, k) in browser_round_trips(args.moves).items():
        parts = [
            f"browser {b:6.1f} ms" if b is not None else "",
            f"kernel round trip {k:6.1f} ms" if k else "",
        ]
        ratio = f"  (kernel/browser {k / b:.1f}x)" if b and k else ""
        print(f"  {name}: {'; '.join(p for p in parts if p)}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
