"""Browser-drawn widgets: how fast a control is answered in the browser, against the kernel round trip.

    python benchmarks/bench_widgets_browser.py        # about a minute; needs chromium, playwright, voila

Measured in one run, in headless Debian Chromium on a Voilà page on 127.0.0.1, as medians of 10 moves:

* ThresholdExplorer: a threshold move (the slider's arrow key) to the DET plot's point redrawn by the
  browser (the slider is ``jslink``-ed to the plot), and to the table of scores the kernel recomputes
  (the old way every answer went). Target: browser < 50 ms.
* AudioPlayer: a click on the picture to the playhead drawn there (no kernel).

Times are taken in the page (``performance.now()``), from the key or click to the next frame that shows
it. Other load on the machine shows in both; compare the ratio.
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
from twd_lab.widgets import AudioPlayer, ThresholdExplorer

rng = np.random.default_rng(0)
clips, ends = [], []
for i in range(20):
    p = rng.beta(1, 6, TY).astype(np.float32)
    e = [1.0 + i * 0.4]
    p[int(e[0] / STEP_S) : int(e[0] / STEP_S) + 40] = rng.uniform(0.3, 0.99)
    clips.append(p); ends.append(e)
ThresholdExplorer(clips, ends, [10.0] * 20, threshold=0.3)""",
    "AudioPlayer(np.random.default_rng(1).normal(0, 0.05, 441_000).astype(np.float32), probs=clips[0])",
]

# Arms a watch: the key's time (captured before the slider sees it) and the first frame showing the DET
# point redrawn and the kernel's table changed; window.__move holds [browser ms, kernel ms] when done.
ARM = """() => {
  const det = document.querySelector('.twd-det'), table = document.querySelector('.widget-html-content table');
  const before = table.innerText, drawn = det.dataset.drawnAt;
  const res = window.__move = {t0: null, browser: null, kernel: null, done: false};
  document.addEventListener('keydown', () => { if (res.t0 === null) res.t0 = performance.now(); },
                            {capture: true, once: true});
  const tick = () => {
    if (res.t0 !== null) {
      const now = performance.now() - res.t0;
      if (res.browser === null && det.dataset.drawnAt !== drawn) res.browser = now;
      if (res.kernel === null && table.innerText !== before) res.kernel = now;
    }
    if (res.browser !== null && res.kernel !== null) res.done = true; else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""

SEEK = """async (frac) => {
  const c = document.querySelector('.twd-player canvas'), r = c.getBoundingClientRect();
  const root = document.querySelector('.twd-player'), x0 = root.dataset.playheadX;
  const opts = {clientX: r.left + 46 + frac * (r.width - 56), clientY: r.top + 40, bubbles: true, pointerId: 1};
  const t0 = performance.now();
  c.dispatchEvent(new PointerEvent('pointerdown', opts));
  c.dispatchEvent(new PointerEvent('pointerup', opts));
  while (root.dataset.playheadX === x0) await new Promise(requestAnimationFrame);
  return performance.now() - t0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10, help="threshold moves and clicks measured (10)")
    args = parser.parse_args(argv)
    import nbformat
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, Path(tmp) / "bench.ipynb")
        port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        server = subprocess.Popen(
            [sys.executable, "-m", "voila", "bench.ipynb", "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--Voila.port_retries=0"],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(240):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/static/voila.js", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 1200})
                page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)
                page.wait_for_selector(".twd-det[data-drawn-at]", timeout=180_000)
                page.wait_for_selector(".twd-player[data-playhead-x]", timeout=180_000)
                page.locator(".widget-slider .noUi-handle").first.focus()
                moves = []
                for _ in range(args.moves):
                    page.evaluate(ARM)
                    page.keyboard.press("ArrowRight")
                    page.wait_for_function("() => window.__move.done", timeout=60_000)
                    moves.append(page.evaluate("() => [window.__move.browser, window.__move.kernel]"))
                seeks = [page.evaluate(SEEK, 0.1 + 0.08 * i) for i in range(args.moves)]
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    det = statistics.median(m[0] for m in moves if m[0] is not None)
    kernel = statistics.median(m[1] for m in moves if m[1] is not None)
    print(f"ThresholdExplorer threshold move, median of {len(moves)}: DET point redrawn by the browser "
          f"{det:.1f} ms; table from the kernel {kernel:.1f} ms; ratio kernel/browser {kernel / det:.1f}x "
          f"(target: browser < 50 ms)")
    print(f"AudioPlayer click to playhead drawn, median of {len(seeks)}: {statistics.median(seeks):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
