"""A lesson in a real browser: JupyterLab on localhost, headless Debian Chromium driven by Playwright.

Runs lesson 1 top to bottom in JupyterLab and checks that its widgets render as live widgets (sliders,
audio players, pictures), not as error placeholders; saves a screenshot (its path is printed; pass
``--basetemp`` to keep it somewhere known). Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package,
installed by ``tools/ci_setup.sh``; Playwright's own browser download is never used), ``jupyterlab``
and the ``playwright`` Python package; skips with the reason when one is missing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "1_audio_and_synthesis.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on a random free localhost port with a random token, serving a copy of lesson 1."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    pytest.importorskip("jupyterlab", reason="needs jupyterlab")
    pytest.importorskip("ipywidgets", reason="needs ipywidgets")
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(LESSON, root / LESSON.name)  # the browser may save; never touch the repository's copy
    state = root / ".state"
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "wb")  # noqa: SIM115 - closed in the teardown below
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # CI containers run as root
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/api/status?token={token}", proc)
        yield {"base": base, "token": token, "root": root}
    finally:
        try:  # shut the server down with its kernels, then make sure the process is gone
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=10).close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _run_all_cells(page) -> None:
    """Run every cell once the kernel is connected and idle (a request sent earlier can be lost)."""
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle$/.test(e.textContent))",
        timeout=90_000,
    )
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")


def test_lesson_1_runs_in_jupyterlab_and_its_widgets_render(jupyterlab):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    url = f"{jupyterlab['base']}/lab/tree/{LESSON.name}?token={jupyterlab['token']}&reset"
    shot = jupyterlab["root"] / "lesson1_widgets.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(url, wait_until="domcontentloaded", timeout=90_000)
            _run_all_cells(page)
            # The SynthesisExplorer (near the end) has sliders: once they exist, the lesson has run.
            slider = page.locator(".jp-OutputArea-output .widget-slider").first
            try:
                slider.wait_for(state="visible", timeout=240_000)
            except PlaywrightError:
                page.screenshot(path=str(shot.with_name("timeout.png")), full_page=True)
                log = (jupyterlab["root"] / "jupyterlab.log").read_text(errors="replace")[-3000:]
                pytest.fail(
                    f"no widget slider after 240 s; screenshot {shot.with_name('timeout.png')}\n{log}"
                )
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                ".some(e => /\\| Idle$/.test(e.textContent))",
                timeout=120_000,
            )
            n_sliders = page.locator(".jp-OutputArea-output .widget-slider").count()
            n_audio = page.locator(".jp-OutputArea-output audio").count()
            # the AudioPlayers and the explorer draw on a canvas in the browser: no picture from the kernel
            n_pictures = page.locator(".jp-OutputArea-output .widget-image").count()
            n_players = page.locator(".jp-OutputArea-output .twd-player canvas").count()
            errors = page.locator(".jp-OutputArea-output:has-text('Error displaying widget')").count()
            stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            n_tracebacks = page.locator(stderr).count()
            # A round trip through the kernel: move the explorer's seed slider, and its text follows.
            info = (
                "() => document.querySelector('.jp-OutputArea-output .widget-slider')"
                ".closest('.jp-OutputArea-output').querySelector('.widget-html-content').innerText"
            )
            before = page.evaluate(info)
            slider.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"before => ({info})() !== before", arg=before, timeout=60_000)
            seed_readout = slider.locator(".widget-readout").inner_text()
            for button in page.locator(".jp-toast-button:text-is('No')").all():  # the "Jupyter news?" toast
                button.click()
            slider.scroll_into_view_if_needed()
            page.mouse.wheel(0, -250)  # show the controls above the explorer's picture
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert errors == 0, "a widget failed to render"
    assert n_tracebacks == 0, "a cell wrote to stderr (an exception?)"
    assert n_sliders >= 4  # seed, activates, negatives, background level
    assert seed_readout.strip() == "1"
    assert n_audio >= 4 and n_players >= 4 and n_pictures == 0  # three AudioPlayers and the explorer


DEMO_NOTEBOOK = """import numpy as np

from twd_lab.widgets import DetectionDemo

quiet = np.zeros(441_000, np.float32)
# a stand-in for the lab network (no model, no TensorFlow): the probabilities are all 0.1
demo = DetectionDemo(probabilities=lambda samples: np.full(100, 0.1, np.float32),
                     examples={"bundled A": (quiet, None), "bundled B": (quiet + 0.001, None)})
demo"""


def test_detection_demo_hears_the_same_upload_again_after_a_bundled_clip(jupyterlab):
    """The browser sends an upload to the kernel only when the widget's value changes: after a bundled clip
    the same file must still get through, and the dropdown names no clip while the upload is shown."""
    import nbformat
    from playwright.sync_api import sync_playwright

    from twd_lab.audio import write_wav

    root = jupyterlab["root"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DEMO_NOTEBOOK)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "upload_demo.ipynb")
    wav = write_wav(root / "mine.wav", np.random.default_rng(0).normal(0, 0.05, 44_100).astype(np.float32))
    shown = "() => document.body.innerText.includes('your file: mine.wav')"
    url = f"{jupyterlab['base']}/lab/tree/upload_demo.ipynb?token={jupyterlab['token']}&reset"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            page.goto(url, wait_until="domcontentloaded", timeout=90_000)
            _run_all_cells(page)
            upload = page.locator(".jp-OutputArea-output .widget-upload").first
            upload.wait_for(state="visible", timeout=120_000)
            dropdown = page.locator(".jp-OutputArea-output .widget-dropdown select").first

            def send_the_file():
                with page.expect_file_chooser() as chooser:
                    upload.click()
                chooser.value.set_files(str(wav))
                page.wait_for_function(shown, timeout=60_000)

            send_the_file()
            during_upload = dropdown.input_value()
            dropdown.select_option(label="bundled A")
            page.wait_for_function(f"() => !({shown})()", timeout=60_000)
            send_the_file()  # the same file again: before the fix the kernel never heard of it
            again = dropdown.input_value()
        finally:
            browser.close()
    assert during_upload == "" and again == ""
