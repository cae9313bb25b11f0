"""The browser-drawn widgets in a real browser: Voilà on localhost, headless Debian Chromium via Playwright.

The LiveDetector hears a fake microphone (Chromium's ``--use-file-for-fake-audio-capture``) playing held-out
TTS "activate"s among other held-out words, served by ``twd-lab classroom``; it must report each activate
in ``triggers`` within 1.5 s of its end and nothing for the other words. A denied microphone is said in
the widget. Needs ``/usr/bin/chromium``, the ``playwright`` package and Voilà; skips with the reason when
one is missing. Screenshots are saved under the test's tmp dir (their paths are printed).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from live_words import to_pcm16, words_with_pauses
from test_notebooks_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SR = 44_100
FAKE_MIC = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def _needs_browser_and_voila() -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    pytest.importorskip("voila", reason="needs Voilà (python -m pip install voila)")
    pytest.importorskip("anywidget", reason="needs anywidget")


@contextlib.contextmanager
def _serving(args: list[str], cwd: Path, status_url: str, **env_vars: str):
    """Run a server (its kernels import this checkout's twd_lab) until the block ends."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env_vars
    )
    log = open(cwd / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    try:
        _wait_for(status_url, proc)
        yield cwd / "server.log"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """``twd-lab classroom`` on a free port, and the fake microphone's file: (base url, folder, words)."""
    _needs_browser_and_voila()
    from conftest import skip_without_embedding_detector

    skip_without_embedding_detector()
    import soundfile as sf

    folder = tmp_path_factory.mktemp("classroom")
    audio, ends, spans = words_with_pauses(3, 3)
    sf.write(folder / "mic.wav", to_pcm16(audio), SR, subtype="PCM_16")
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "twd_lab.cli",
        "classroom",
        "--folder",
        str(folder),
        "--port",
        str(port),
        "--no-browser",
        "--detector",
        "embedding",
        "--takes-dir",
        "takes",
    ]
    with _serving(args, folder, f"http://127.0.0.1:{port}/voila/static/voila.js") as log:
        yield {
            "base": f"http://127.0.0.1:{port}/",
            "folder": folder,
            "audio": audio,
            "ends": ends,
            "spans": spans,
            "log": log,
        }


def _launch(p, *extra):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra])


@contextlib.contextmanager
def _page_at(url: str, width: int, height: int, *flags: str, **page_options):
    """A headless Chromium page (``flags`` added to its command line) open at ``url``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _launch(p, *flags)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, **page_options)
            page.goto(url, timeout=120_000)
            yield page
        finally:
            browser.close()


def _live_state(page) -> dict:
    return page.eval_on_selector(
        ".twd-live",
        """e => ({
        triggers: JSON.parse(e.dataset.triggers || "[]"), latency: e.dataset.latencyMs,
        chimes: Number(e.dataset.chimes || 0), message: e.querySelector('.twd-message').textContent,
        micError: e.dataset.micError || ""})""",
    )


def _offset_in_loop(take: np.ndarray, mic: np.ndarray) -> int:
    """Where in the (looping) fake microphone's file the take began, in samples."""
    from scipy.signal import correlate

    n = min(take.size, mic.size)
    scores = correlate(np.concatenate([mic, mic]), take[:n], mode="valid", method="fft")[: mic.size]
    return int(np.argmax(scores))


def _listen_and_keep(page, mic_s: float, shot: Path) -> dict:
    """With the LiveDetector starting on ``page``: hear the fake microphone's file (``mic_s`` long) once
    and 4 s more (a screenshot after 8 s), stop, keep the take; the widget's state."""
    page.wait_for_selector(".twd-live.twd-running", timeout=120_000)
    page.wait_for_timeout(8_000)
    page.screenshot(path=str(shot))
    page.wait_for_timeout(1000 * (mic_s - 8.0 + 4.0))
    page.locator(".twd-live").scroll_into_view_if_needed()
    page.click(".twd-start")  # Stop
    page.wait_for_selector(".twd-live:not(.twd-running)")
    page.click(".twd-keep")
    page.wait_for_function(
        "() => /kept take 1/.test(document.querySelector('.twd-message').textContent)", timeout=30_000
    )
    return _live_state(page)


def _check_each_activate_fired(
    state: dict, take_path: Path, mic: np.ndarray, ends: list[float], shot
) -> None:
    """Each activate the take heard (its end 1.5 s or more before the stop) reported once, within 1.5 s of
    its end, and nothing else: the take is aligned with the looping file by correlation."""
    from twd_lab.audio import read_wav

    print(f"screenshot: {shot}; latency {state['latency']} ms; triggers {state['triggers']}")
    take = read_wav(take_path)  # what the kernel heard
    start, loop_s, heard_s = _offset_in_loop(take, mic) / SR, mic.size / SR, take.size / SR
    expected = [e - start + k * loop_s for k in range(-1, 3) for e in ends]
    expected = [e for e in expected if 0.3 < e < heard_s - 1.5]
    times = [t["time_s"] for t in state["triggers"] if t["time_s"] < heard_s - 1.5]
    assert len(expected) >= 4
    assert len(times) == len(expected), (times, expected, start)
    for end, t in zip(expected, times):
        assert end - 0.3 <= t <= end + 1.5, (times, expected)
    assert state["chimes"] == len(state["triggers"]) and state["micError"] == ""
    assert state["latency"] is not None and float(state["latency"]) >= 0


def test_classroom_serves_the_live_detector_and_it_fires_on_each_activate(classroom):
    from playwright.sync_api import sync_playwright

    folder, shot = classroom["folder"], classroom["folder"] / "live_detector.png"
    with sync_playwright() as p:
        browser = _launch(p, *FAKE_MIC, f"--use-file-for-fake-audio-capture={folder / 'mic.wav'}")
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 640})
            page.goto(classroom["base"], timeout=120_000)
            state = _listen_and_keep(page, classroom["audio"].size / SR, shot)  # autostart: listening
        finally:
            browser.close()
    _check_each_activate_fired(
        state, folder / "takes" / "take_001.wav", classroom["audio"], classroom["ends"], shot
    )


LIVE_CELL = "from twd_lab.widgets import LiveDetector\n\nLiveDetector('embedding', autostart=True, takes_dir={takes!r})"


@contextlib.contextmanager
def _notebook_in(app: str, folder: Path, cells: list[str], *flags: str, width: int = 1280, height: int = 900):
    """A notebook of ``cells`` in ``folder``, opened in JupyterLab or Notebook 7 (``app``) in headless
    Chromium (``flags`` added), every cell run: the page."""
    import nbformat
    from playwright.sync_api import sync_playwright
    from test_notebooks_browser import _run_all_cells

    pytest.importorskip(app, reason=f"needs {app}")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "page.ipynb")
    state_dir = folder / ".state"
    port, token = _free_port(), "twd-lab-test-token"
    args = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    page_path = "lab/tree" if app == "jupyterlab" else "notebooks"
    settings = {
        "JUPYTERLAB_SETTINGS_DIR": str(state_dir / "settings"),
        "JUPYTER_RUNTIME_DIR": str(state_dir / "run"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state_dir / "workspaces"),
    }
    status = f"http://127.0.0.1:{port}/api/status?token={token}"
    with _serving(args, folder, status, **settings), sync_playwright() as p:
        browser = _launch(p, *flags)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(
                f"http://127.0.0.1:{port}/{page_path}/page.ipynb?token={token}&reset",
                wait_until="domcontentloaded",
                timeout=90_000,
            )
            if app == "jupyterlab":
                _run_all_cells(page)
            else:
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
                page.click(".lm-MenuBar-itemLabel:text-is('Run')")
                page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            yield page
        finally:
            browser.close()


@pytest.mark.parametrize("app", ["jupyterlab", "notebook"])
def test_live_detector_fires_on_each_activate_in_jupyterlab_and_notebook_7(app, classroom, tmp_path):
    folder, shot = tmp_path, tmp_path / f"live_{app}.png"
    mic = f"--use-file-for-fake-audio-capture={classroom['folder'] / 'mic.wav'}"
    with _notebook_in(app, folder, [LIVE_CELL.format(takes=str(folder / "takes"))], *FAKE_MIC, mic) as page:
        state = _listen_and_keep(page, classroom["audio"].size / SR, shot)
    _check_each_activate_fired(
        state, folder / "takes" / "take_001.wav", classroom["audio"], classroom["ends"], shot
    )


MIC_PROBLEMS = {  # what the browser is given -> what the widget must say
    "denied": (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "microphone was denied"),
    "missing": (["--use-fake-ui-for-media-stream"], "No microphone was found"),
    # the page served under a name that is not localhost, over http: no secure context, no microphone
    "insecure": (
        [*FAKE_MIC, "--host-resolver-rules=MAP twd-classroom.test 127.0.0.1"],
        "not a secure context",
    ),
}


@pytest.mark.parametrize("problem", sorted(MIC_PROBLEMS))
def test_a_microphone_problem_is_said_in_the_widget(problem, classroom):
    from playwright.sync_api import sync_playwright

    flags, words = MIC_PROBLEMS[problem]
    url = classroom["base"]
    if problem == "insecure":
        url = url.replace("127.0.0.1", "twd-classroom.test")
    shot = classroom["folder"] / f"mic_{problem}.png"
    with sync_playwright() as p:
        browser = _launch(p, *flags)
        try:
            page = browser.new_context(viewport={"width": 1200, "height": 500}, permissions=[]).new_page()
            page.goto(url, timeout=120_000)
            page.wait_for_selector(".twd-live[data-mic-error]:not([data-mic-error=''])", timeout=120_000)
            state = _live_state(page)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    print(f"screenshot: {shot}: {state['message']}")
    assert state["micError"] == problem
    assert words in state["message"]
    assert state["triggers"] == []


PLAYER_CELL = """\
import numpy as np
from twd_lab.audio import read_wav
from twd_lab.constants import STEP_S, TY
from twd_lab.widgets import AudioPlayer

x = np.zeros(441_000, np.float32)
word = read_wav({path!r})
x[88_200 : 88_200 + word.size] = word[: 441_000 - 88_200]
y = np.zeros(TY, np.float32)
end = int((88_200 + word.size) / 44_100 / STEP_S)
y[end : end + 50] = 1
probs = np.clip(np.convolve(y, np.ones(30) / 30, "same") + 0.02, 0, 1)
AudioPlayer(x, labels=y, probs=probs, triggers=[end + 20], title="one activate")
"""

EXPLORER_CELL = """\
import numpy as np
from twd_lab.constants import STEP_S, TY
from twd_lab.widgets import ThresholdExplorer

rng = np.random.default_rng(0)
clips, ends = [], []
for i in range(8):
    p = rng.beta(1, 6, TY).astype(np.float32)
    e = [2.0 + i * 0.7]
    p[int(e[0] / STEP_S) : int(e[0] / STEP_S) + 40] = rng.uniform(0.3, 0.99)
    clips.append(p); ends.append(e)
explorer = ThresholdExplorer(clips, ends, [10.0] * 8, threshold=0.5)
display(explorer, explorer.table)  # the kernel's table too, to compare with the browser's
"""

# While the kernel sleeps in this button's handler, whatever the page shows comes from the browser alone.
BUSY_CELL = """\
import time
import ipywidgets as w

busy = w.Button(description="keep the kernel busy")
busy.on_click(lambda _: time.sleep(10))
busy
"""

SYNTHESIS_CELL = """\
from twd_lab.widgets import SynthesisExplorer

SynthesisExplorer(seed=0, n_activates=2, n_negatives=1)
"""

# four bumps, 0.95 to 0.45 high: at threshold 0.5 three fire, at 0.4 four
DEMO_CELL = """\
from twd_lab.widgets import DetectionDemo

def bumps(samples):
    t = np.arange(TY) * STEP_S
    return sum(h * np.exp(-0.5 * ((t - c) / 0.15) ** 2) for c, h in [(2, 0.95), (4, 0.75), (6, 0.6), (8, 0.45)])

DetectionDemo(probabilities=bumps, examples={"one activate": (x, y)}, threshold=0.5, patience=1, refractory=75)
"""


@pytest.fixture(scope="module")
def player_page(tmp_path_factory):
    """Voilà serving a notebook with an AudioPlayer (a held-out activate in 10 s), a ThresholdExplorer (and
    its kernel-side table), a button that keeps the kernel busy, a SynthesisExplorer and a DetectionDemo
    (the same clip; made-up probabilities): (url, folder)."""
    _needs_browser_and_voila()
    import nbformat
    from live_words import HELDOUT

    folder = tmp_path_factory.mktemp("player")
    word = min((HELDOUT / "activates").glob("*.wav"))
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(PLAYER_CELL.format(path=str(word))),
            nbformat.v4.new_code_cell(EXPLORER_CELL),
            nbformat.v4.new_code_cell(BUSY_CELL),
            nbformat.v4.new_code_cell(SYNTHESIS_CELL),
            nbformat.v4.new_code_cell(DEMO_CELL),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "player.ipynb")
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "voila",
        "player.ipynb",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--show_tracebacks=True",
    ]
    with _serving(args, folder, f"http://127.0.0.1:{port}/voila/static/voila.js"):
        yield {"url": f"http://127.0.0.1:{port}/", "folder": folder}


def test_audio_player_playhead_moves_during_playback_and_a_click_seeks(player_page):
    shot = player_page["folder"] / "audio_player.png"
    autoplay = "--autoplay-policy=no-user-gesture-required"
    with _page_at(player_page["url"], 1000, 520, autoplay, device_scale_factor=2) as page:
        root = page.wait_for_selector(".twd-player[data-position]", timeout=120_000)
        canvas = page.locator(".twd-player canvas").first
        size = page.evaluate(
            "() => { const c = document.querySelector('.twd-player canvas');"
            " return [c.width, c.clientWidth]; }"
        )
        page.click(".twd-play")
        page.wait_for_function(
            "() => Number(document.querySelector('.twd-player').dataset.position) > 0.2", timeout=20_000
        )
        x1 = float(root.get_attribute("data-playhead-x"))
        page.wait_for_function(
            "() => Number(document.querySelector('.twd-player').dataset.position) > 0.8", timeout=20_000
        )
        x2 = float(root.get_attribute("data-playhead-x"))
        page.click(".twd-play")  # pause
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 46 + 0.75 * (box["width"] - 56), box["y"] + 210)  # over the probabilities
        hover = page.locator(".twd-hover").first.inner_text()
        page.mouse.click(box["x"] + 46 + 0.75 * (box["width"] - 56), box["y"] + 40)
        page.wait_for_timeout(300)
        seeked = float(root.get_attribute("data-position"))
        # shift-drag selects 2.0-3.0 s; Play plays that region only, and stops at its end
        at = lambda f: box["x"] + 46 + f * (box["width"] - 56)
        page.keyboard.down("Shift")
        page.mouse.move(at(0.2), box["y"] + 40)
        page.mouse.down()
        page.mouse.move(at(0.3), box["y"] + 40, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        selection = root.get_attribute("data-selection")
        page.click(".twd-play")
        page.wait_for_function(
            "() => document.querySelector('.twd-play').textContent.includes('Play')"
            " && Number(document.querySelector('.twd-player').dataset.position) > 2.5",
            timeout=20_000,
        )
        stopped = float(root.get_attribute("data-position"))
        page.mouse.move(at(0.25), box["y"] + 40)
        page.screenshot(path=str(shot))
    print(
        f"screenshot: {shot}; playhead {x1} -> {x2} px; seeked to {seeked} s; hover {hover!r}; "
        f"selection {selection} stopped at {stopped} s"
    )
    assert size[0] == 2 * size[1]  # drawn at the device's resolution
    assert x2 > x1  # the playhead moved with playback
    assert abs(seeked - 7.5) < 0.1  # a click at 3/4 of the axis seeks to 3/4 of the 10 s clip
    assert hover.startswith("t = 7.5") and "p(activate) = " in hover
    assert np.allclose([float(v) for v in selection.split(",")], [2.0, 3.0], atol=0.02)
    assert 2.99 <= stopped < 3.2  # the selected region played, and playback stopped at its end


def test_threshold_explorer_det_plot_follows_the_slider_in_the_browser(player_page):
    shot = player_page["folder"] / "det_plot.png"
    drawn = "() => document.querySelector('.twd-det').dataset.drawnThreshold"
    with _page_at(player_page["url"], 1000, 1100) as page:
        page.wait_for_selector(".twd-det[data-point-x]", timeout=120_000)
        before = (page.evaluate(drawn), page.eval_on_selector(".twd-det", "e => e.dataset.pointX"))
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => ({drawn})() === '0.7000'", timeout=30_000)
        after = page.eval_on_selector(".twd-det", "e => e.dataset.pointX")
        page.locator(".twd-det").scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}; point x {before[1]} -> {after} px")
    assert before[0] == "0.5000"
    assert float(after) < float(before[1])  # a higher threshold: fewer false accepts, further left


def _player(page, i: int, key: str) -> str:
    """``data-<key>`` of the ``i``-th clip view on the page (0 AudioPlayer, 1 SynthesisExplorer, 2 DetectionDemo)."""
    return page.evaluate(f"() => document.querySelectorAll('.twd-player')[{i}].dataset.{key}")


def _slider(page, label: str, nth: int = 0):
    return page.locator(f".widget-slider:has(.widget-label:text-is('{label}')) .noUi-handle").nth(nth)


def _press(page, handle, key: str, times: int) -> None:
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)


def test_threshold_controls_are_answered_in_the_browser_while_the_kernel_is_busy(player_page):
    """ThresholdExplorer's table and DET point, and DetectionDemo's detections, follow their threshold with
    the kernel asleep (no kernel message can have come); when it wakes, its answers agree."""

    shot = player_page["folder"] / "busy_kernel.png"
    browser_table = "() => document.querySelector('.twd-det-table').innerText"
    kernel_table = "() => document.querySelector('.widget-html-content .twd-scores').innerText"
    det = "() => document.querySelector('.twd-det').dataset"
    with _page_at(player_page["url"], 1000, 1000) as page:
        page.wait_for_selector(".twd-det[data-scores]", timeout=120_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.twd-player[data-kernel-triggers]').length === 3",
            timeout=120_000,
        )
        start = {
            "browser": page.evaluate(browser_table),
            "kernel": page.evaluate(kernel_table),
            "demo": json.loads(_player(page, 2, "triggers")),
        }
        page.click("button:text-is('keep the kernel busy')")
        _press(page, _slider(page, "threshold", 0), "ArrowRight", 20)  # 0.50 -> 0.70
        page.wait_for_function(f"() => ({det})().drawnThreshold === '0.7000'", timeout=5_000)
        _press(page, _slider(page, "threshold", 1), "ArrowLeft", 10)  # 0.50 -> 0.40
        page.wait_for_function(
            "() => document.querySelectorAll('.twd-player')[2].dataset.drawnThreshold === '0.4000'",
            timeout=5_000,
        )
        asleep = {
            "browser": page.evaluate(browser_table),
            "kernel": page.evaluate(kernel_table),
            "kernel_threshold": page.evaluate(det)["kernelThreshold"],
            "demo": json.loads(_player(page, 2, "triggers")),
            "demo_kernel": json.loads(_player(page, 2, "kernelTriggers")),
        }
        page.screenshot(path=str(shot))
        # the kernel wakes and answers the moves it was sent
        page.wait_for_function(f"() => ({det})().kernelThreshold === '0.7000'", timeout=60_000)
        page.wait_for_function(
            "() => { const d = document.querySelectorAll('.twd-player')[2].dataset;"
            " return d.kernelTriggers === d.triggers; }",
            timeout=60_000,
        )
        page.wait_for_function(f"() => ({kernel_table})() !== {json.dumps(start['kernel'])}", timeout=60_000)
        awake = {"browser": page.evaluate(browser_table), "kernel": page.evaluate(kernel_table)}
    print(f"screenshot: {shot}; asleep: {asleep}; awake: {awake}")
    assert start["browser"] == start["kernel"]  # the browser's table is the library's
    assert (
        asleep["kernel_threshold"] == "0.5000" and asleep["kernel"] == start["kernel"]
    )  # nothing from the kernel
    assert asleep["browser"] != start["browser"]  # ... and yet the table moved
    assert awake["browser"] == awake["kernel"] == asleep["browser"]  # and it was right
    assert len(start["demo"]) == 3 and len(asleep["demo"]) == 4  # a lower threshold: the fourth bump fires
    assert asleep["demo_kernel"] == start["demo"]


def test_synthesis_explorer_draws_the_clip_the_kernel_synthesized(player_page):
    """A control that needs the kernel (the seed) sends a new clip, drawn where the kernel says its words went."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shot = player_page["folder"] / "synthesis_explorer.png"
    with _page_at(player_page["url"], 1000, 1000) as page:
        page.wait_for_function(
            "() => document.querySelectorAll('.twd-player[data-regions]').length >= 2", timeout=120_000
        )
        before = json.loads(_player(page, 1, "regions"))
        changed = (
            f"() => document.querySelectorAll('.twd-player')[1].dataset.regions !== "
            f"{json.dumps(_player(page, 1, 'regions'))}"
        )
        readout = page.locator(".widget-slider:has(.widget-label:text-is('seed')) .widget-readout")
        for _ in range(3):  # a key pressed while the page still settles can be lost: press again
            _press(page, _slider(page, "seed"), "ArrowRight", 1)
            try:
                page.wait_for_function(changed, timeout=20_000)
                break
            except PlaywrightTimeout:
                print(f"no new clip yet; the seed reads {readout.inner_text()}")
        page.wait_for_timeout(1000)  # the answer to a pressed-again key, if any, comes in too
        # the drawing and the kernel's description, read at one moment
        after, info = (
            page.evaluate("""() => [JSON.parse(document.querySelectorAll('.twd-player')[1].dataset.regions),
            [...document.querySelectorAll('.widget-html-content')].map((e) => e.innerText)
              .find((t) => t.includes('y has'))]""")
        )
        page.locator(".twd-player").nth(1).screenshot(path=str(shot))
    print(f"screenshot: {shot}; regions {before} -> {after}; info {info!r}")
    assert after != before and sorted(r[0] for r in after) == ["A1", "A2", "N1"]
    for name, start, end in after:  # the kernel's description names the same places, in ms
        assert (
            f"{name} {'activate' if name[0] == 'A' else 'negative'} {round(start * 1000)}–{round(end * 1000)} ms"
            in info
        )


def test_audio_player_zooms_the_time_axis_in_the_browser(player_page):
    shot = player_page["folder"] / "audio_player_zoomed.png"
    view = lambda page: [float(v) for v in _player(page, 0, "view").split(",")]
    with _page_at(player_page["url"], 1000, 700) as page:
        page.wait_for_selector(".twd-player[data-view]", timeout=120_000)
        canvas = page.locator(".twd-player canvas").first
        box = canvas.bounding_box()
        at = lambda f: box["x"] + 46 + f * (box["width"] - 56)
        whole = view(page)
        page.mouse.move(at(0.75), box["y"] + 40)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -400)  # Ctrl + wheel up: zoom in about the pointer (7.5 s)
        page.keyboard.up("Control")
        page.wait_for_function("() => document.querySelector('.twd-player').dataset.view !== '0.000,10.000'")
        wheeled = view(page)
        page.click(".twd-zoom-reset >> nth=0")
        page.wait_for_function("() => document.querySelector('.twd-player').dataset.view === '0.000,10.000'")
        page.keyboard.down("Shift")  # select 2-4 s, then "zoom"
        page.mouse.move(at(0.2), box["y"] + 40)
        page.mouse.down()
        page.mouse.move(at(0.4), box["y"] + 40, steps=5)
        page.mouse.up()
        page.keyboard.up("Shift")
        page.click(".twd-zoom >> nth=0")
        page.wait_for_function("() => document.querySelector('.twd-player').dataset.view !== '0.000,10.000'")
        selected = view(page)
        page.mouse.click(at(0.5), box["y"] + 40)  # the middle of the zoomed axis: 3 s
        page.wait_for_timeout(300)
        seeked = float(_player(page, 0, "position"))
        canvas.screenshot(path=str(shot))
        canvas.dblclick()
        page.wait_for_function("() => document.querySelector('.twd-player').dataset.view === '0.000,10.000'")
    print(
        f"screenshot: {shot}; view {whole} -> wheel {wheeled} -> selection {selected}; seeked to {seeked} s"
    )
    assert whole == [0.0, 10.0]
    assert wheeled[1] - wheeled[0] < 8.0 and wheeled[0] < 7.5 < wheeled[1]
    # the time under the pointer stays put: 3/4 of the way along the zoomed span too
    assert (7.5 - wheeled[0]) / (wheeled[1] - wheeled[0]) == pytest.approx(0.75, abs=0.02)
    assert selected == pytest.approx([2.0, 4.0], abs=0.03)
    assert seeked == pytest.approx(3.0, abs=0.05)


MONITOR_CELL = """\
from twd_lab.widgets import TrainingMonitor

monitor = TrainingMonitor(display=False)
monitor.set_params({"epochs": 4, "steps": 1})
monitor.on_train_begin()
for epoch in range(3):
    monitor.on_epoch_begin(epoch)
    monitor.on_epoch_end(epoch, {"loss": 1 / (epoch + 1), "val_loss": 1.2 / (epoch + 1), "accuracy": 0.6 + 0.1 * epoch})
monitor.widget
"""

STEPPER_CELL = "from twd_lab.widgets import KerasStylesStepper\n\nKerasStylesStepper(input_length=200)"


@pytest.mark.parametrize("app", ["jupyterlab", "notebook"])
def test_the_lesson_widgets_render_and_answer_in_jupyterlab_and_notebook_7(app, tmp_path):
    """The SynthesisExplorer, ThresholdExplorer, TrainingMonitor and KerasStylesStepper, drawn by the browser
    in JupyterLab 4 and Notebook 7: each shows what its kernel holds, and a browser-side control answers."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _needs_browser_and_voila()
    shot = tmp_path / f"lesson_widgets_{app}.png"
    cells = [SYNTHESIS_CELL, EXPLORER_CELL, MONITOR_CELL, STEPPER_CELL]
    with _notebook_in(app, tmp_path, cells, width=1200, height=1400) as page:
        for selector in (
            ".twd-player[data-regions]",
            ".twd-det[data-scores]",
            ".twd-curves[data-points]",
            ".twd-styles[data-style]",
        ):
            page.wait_for_selector(selector, state="attached", timeout=240_000)
        drawn = page.evaluate("""() => ({
            regions: JSON.parse(document.querySelector('.twd-player').dataset.regions).map((r) => r[0]),
            points: document.querySelector('.twd-curves').dataset.points,
            panels: document.querySelector('.twd-curves').dataset.panels,
            errors: document.body.innerText.includes('Error displaying widget')})""")
        table_before = page.locator(".twd-det-table").inner_text()
        # every cell has run (the notebook scrolls to the last one when they end: drag after that)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-InputPrompt')]"
            ".every((e) => /\\[\\d+\\]/.test(e.innerText))",
            timeout=120_000,
        )
        page.wait_for_timeout(1000)
        readout = page.locator(".widget-slider:has(.widget-label:text-is('threshold')) .widget-readout")
        for _ in range(
            3
        ):  # drag the threshold's handle to the right (Notebook 7 does not pass it arrow keys)
            _slider(page, "threshold").scroll_into_view_if_needed()
            handle = _slider(page, "threshold").bounding_box()
            x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 30, y, steps=5)
            page.mouse.up()
            try:
                page.wait_for_function(
                    "() => document.querySelector('.twd-det').dataset.drawnThreshold !== '0.5000'",
                    timeout=10_000,
                )
                break
            except PlaywrightTimeout:  # the page moved under the pointer: drag again
                print(f"the threshold reads {readout.inner_text()}; dragging again")
        drawn_threshold = float(
            page.evaluate("() => document.querySelector('.twd-det').dataset.drawnThreshold")
        )
        moved_to = float(readout.inner_text())
        table_after = page.locator(".twd-det-table").inner_text()
        page.click(".widget-toggle-button:text-is('Subclassed')")
        page.wait_for_function("() => document.querySelector('.twd-styles').dataset.style === 'subclassed'")
        page.click(".twd-styles button[data-tab='summary']")
        summary = page.locator(".twd-styles .twd-page").inner_text()
        page.screenshot(path=str(shot))
    print(f"screenshot: {shot}; {drawn}")
    assert not drawn["errors"]
    assert sorted(drawn["regions"]) == [
        "A1",
        "A2",
        "N1",
    ]  # SynthesisExplorer(seed=0): 2 activates, 1 negative
    assert (
        drawn["panels"] == "loss,accuracy" and drawn["points"] == "9"
    )  # loss, val_loss, accuracy x 3 epochs
    assert moved_to > 0.5 and drawn_threshold == pytest.approx(moved_to)
    assert table_after != table_before and "precision" in table_after
    assert "trigger_word_subclassed" in summary or "TriggerWordModel" in summary
