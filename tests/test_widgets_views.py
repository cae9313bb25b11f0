"""What the lesson widgets send their browser-drawn views, without a browser; and the views' JavaScript
firing rule and matching against the library's (run by Node, when it is installed)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("anywidget")

from twd_lab.constants import SAMPLE_RATE, STEP_S, TY
from twd_lab.widgets._anywidget import JS_DIR


@pytest.fixture
def small_raw():
    rng = np.random.default_rng(0)
    word = lambda n: (0.3 * rng.standard_normal(n)).astype(np.float32)
    background = (0.01 * rng.standard_normal(10 * SAMPLE_RATE)).astype(np.float32)
    return [word(20_000), word(25_000)], [word(15_000)], [background]


def test_synthesis_explorer_sends_the_clip_its_words_and_y_once_per_change(small_raw):
    from twd_lab.widgets import SynthesisExplorer
    from twd_lab.widgets._common import wav_bytes
    from twd_lab.widgets.audio_view import label_spans, wave_envelope

    explorer = SynthesisExplorer(small_raw, seed=1, n_activates=2, n_negatives=1)
    ex, view = explorer.example, explorer.view
    assert view.value == wav_bytes(ex.audio) and view.duration_s == pytest.approx(10.0)
    names = [(name, round(a * 1000), round(b * 1000)) for a, b, name, _ in view.regions]
    assert names == [(f"A{i + 1}", s, e) for i, (s, e) in enumerate(ex.activate_segments)] + [
        (f"N{i + 1}", s, e) for i, (s, e) in enumerate(ex.negative_segments)
    ]
    assert view.label_spans == label_spans(ex.y, STEP_S) and len(view.label_spans) == 2
    envelope = np.frombuffer(view.wave, "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(envelope, wave_envelope(ex.audio))
    sent = view.value
    explorer.seed.value = 2
    assert view.value != sent and view.value == wav_bytes(explorer.example.audio)


def test_wave_envelope_holds_each_stretch_s_min_and_max():
    from twd_lab.widgets.audio_view import wave_envelope

    x = np.array([0, 1, -2, 3, -4, 5, 0, 0], np.float32)
    np.testing.assert_array_equal(wave_envelope(x, 4), [[0, 1], [-2, 3], [-4, 5], [0, 0]])
    assert wave_envelope(x[:3]).shape == (3, 2)  # fewer columns than asked for a short clip


def test_detection_demo_hears_each_clip_once_and_lets_the_browser_fire():
    from twd_lab.widgets import DetectionDemo

    heard = []

    def probabilities(samples):
        heard.append(samples.size)
        p = np.full(TY, 0.05, np.float32)
        p[300:330] = 0.9
        return p

    quiet = np.zeros(10 * SAMPLE_RATE, np.float32)
    demo = DetectionDemo(
        probabilities=probabilities,
        examples={"a": (quiet, None), "b": (quiet + 0.01, None)},
        patience=3,
        refractory=10,
    )
    view = demo.player.view
    assert view.fire_in_browser and (view.threshold, view.patience, view.refractory) == (0.5, 3, 10)
    clip = view.value
    demo.threshold.value = 0.3
    assert view.value is clip  # a threshold move sends no clip
    demo.source.value = "b"
    demo.source.value = "a"
    demo.source.value = "b"
    assert len(heard) == 2  # each clip heard once
    assert view.value != clip


def test_threshold_explorer_sends_the_clips_for_the_browser_to_score():
    from twd_lab.metrics import event_scores
    from twd_lab.widgets import ThresholdExplorer

    rng = np.random.default_rng(0)
    probs = [rng.uniform(0, 0.6, TY).astype(np.float32) for _ in range(3)]
    ends = [[2.0], [3.0, 7.0], []]
    explorer = ThresholdExplorer(probs, ends, [10.0, 10.0, 10.0])
    view = explorer.det_view
    np.testing.assert_array_equal(np.frombuffer(view.clip_probs, "<f4"), np.concatenate(probs))
    assert view.clip_lengths == [TY] * 3 and view.clip_ends == ends and view.step_s == STEP_S
    assert view.clip_negative_s == [event_scores(e, [], 10.0).negative_s for e in ends]
    assert (
        explorer.det_view in explorer.children and explorer.table not in explorer.children
    )  # the browser's table


def test_training_monitor_sends_its_history_with_nan_as_null():
    from twd_lab.widgets import TrainingMonitor

    monitor = TrainingMonitor(display=False)
    monitor.set_params({"epochs": 2, "steps": 1})
    monitor.on_train_begin()
    for epoch, loss in enumerate([0.5, float("nan")]):
        monitor.on_epoch_begin(epoch)
        monitor.on_epoch_end(epoch, {"loss": loss, "accuracy": 0.5})
    view = monitor.widget.view
    assert view.epochs == 2 and view.panels == ["loss", "accuracy"]
    assert view.history == {"loss": [0.5, None], "accuracy": [0.5, 0.5]}
    json.dumps(view.history, allow_nan=False)  # what the browser can parse


def test_keras_styles_stepper_sends_every_style_and_follows_the_toggle():
    pytest.importorskip("keras")
    from twd_lab.widgets import KerasStylesStepper

    stepper = KerasStylesStepper(input_length=200)
    view = stepper.view
    assert view.styles == ["sequential", "functional", "subclassed"] and sorted(view.pages) == sorted(
        view.styles
    )
    assert "class TriggerWordModel" in view.pages["subclassed"]["code"]
    stepper.next()
    assert view.index == 1 and stepper.code.value == view.pages["functional"]["code"]
    stepper.compare()
    assert view.proof == stepper.proof.value and "the same" in view.proof


# --- the views' JavaScript against the library --------------------------------------------------------

DRIVER = """
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const fires = pickTriggers(Float32Array.from(c.probs), c.threshold, c.patience, c.refractory);
  return { fires, hits: countHits([...c.ends].sort((a, b) => a - b), fires.map((k) => k * c.step), -0.2, 1.2) };
});
process.stdout.write(JSON.stringify(out));
"""


def test_the_browser_s_firing_rule_and_matching_are_the_library_s(tmp_path):
    """pickTriggers and countHits (js/_common.js) give TriggerPicker's firings and match_firings' hits."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js to run the widgets' JavaScript outside a browser")
    from twd_lab.metrics import find_triggers, match_firings

    rng = np.random.default_rng(0)
    cases = []
    for _ in range(60):
        p = rng.beta(1, 5, 400).astype(np.float32)
        for start in rng.integers(0, 380, 4):
            p[start : start + rng.integers(1, 25)] = rng.uniform(0.3, 1.0)
        cases.append(
            {
                "probs": p.tolist(),
                "threshold": float(rng.choice([0.2, 0.5, 0.52, 0.9])),
                "patience": int(rng.integers(1, 6)),
                "refractory": int(rng.integers(0, 40)),
                "ends": sorted(rng.uniform(0, 400 * STEP_S, rng.integers(0, 4)).round(3).tolist()),
                "step": STEP_S,
            }
        )
    script = tmp_path / "check.js"
    script.write_text((JS_DIR / "_common.js").read_text() + DRIVER)
    out = json.loads(
        subprocess.run(
            [node, str(script)], input=json.dumps(cases), capture_output=True, text=True, check=True
        ).stdout
    )
    for case, got in zip(cases, out):
        p = np.asarray(case["probs"], np.float32)
        fires = find_triggers(p, case["threshold"], case["patience"], case["refractory"])
        assert got["fires"] == fires.tolist()
        matches = match_firings(case["ends"], fires * STEP_S)
        assert got["hits"] == sum(m is not None for m in matches)
    assert (
        sum(len(g["fires"]) for g in out) > 60 and sum(g["hits"] for g in out) > 5
    )  # the cases fire and hit


def test_every_name_the_widgets_package_offers_imports_from_it_without_tensorflow():
    """The README's table names these as twd_lab.widgets's; each resolves there, lazily, and none of the
    views or the live session brings TensorFlow in (checked in a fresh interpreter)."""
    import sys

    code = (
        "import sys, twd_lab.widgets as w\n"
        "light = ['AudioView', 'DetView', 'CurvesView', 'StylesView', 'LiveSession', 'LiveDetector']\n"
        "assert all(isinstance(getattr(w, n), type) for n in light)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow loaded'\n"
        "assert all(callable(getattr(w, n)) for n in w.__all__) and sorted(dir(w)) == sorted(w.__all__)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
