"""The lesson widgets, without a browser: set a control's value, read what the widget shows."""

from __future__ import annotations

import base64
import datetime
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import skip_without_embedding_detector

pytest.importorskip("ipywidgets")

from twd_lab.constants import SAMPLE_RATE, STEP_S, TY
from twd_lab.widgets._common import wav_bytes

PNG = b"\x89PNG"
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # an upload's last_modified


def test_importing_the_widgets_package_loads_no_tensorflow_or_keras():
    code = (
        "import sys, twd_lab.widgets as w; "
        "w.AudioPlayer; w.SynthesisExplorer; w.ThresholdExplorer; w.KerasStylesStepper; w.DetectionDemo; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_wav_bytes_is_a_16_bit_mono_wav_that_reads_back(tmp_path):
    from twd_lab.audio import read_wav

    x = np.sin(np.linspace(0, 100, 4410)).astype(np.float32) * 0.5
    data = wav_bytes(x)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) == 44 + 2 * x.size
    path = tmp_path / "x.wav"
    path.write_bytes(data)
    np.testing.assert_allclose(read_wav(path), x, atol=1 / 32768)


# --- AudioPlayer ----------------------------------------------------------------------------------


def labelled_clip():
    x = np.random.default_rng(0).normal(0, 0.05, SAMPLE_RATE * 10).astype(np.float32)
    y = np.zeros(TY, np.float32)
    y[300:350] = 1
    probs = np.clip(y * 0.9 + 0.05, 0, 1)
    return x, y, probs


def test_audio_player_shows_spectrogram_labels_and_probabilities_on_one_time_axis():
    from twd_lab.widgets import AudioPlayer

    x, y, probs = labelled_clip()
    player = AudioPlayer(x, labels=y, probs=probs, triggers=[310])
    assert list(player.axes) == ["spectrogram", "labels", "probabilities"]
    axes = list(player.axes.values())
    assert all(ax.get_shared_x_axes().joined(axes[0], ax) for ax in axes)
    assert axes[-1].get_xlim() == pytest.approx((0.0, 10.0))
    label_line = player.axes["labels"].lines[0]
    assert label_line.get_ydata().max() == 1 and label_line.get_xdata()[-1] == pytest.approx(
        (TY - 1) * STEP_S
    )
    # the detection is drawn as a vertical line at its time on every row
    t = 310 * STEP_S
    for ax in axes:
        assert any(np.allclose(line.get_xdata(), t) for line in ax.lines)
    assert "detections: 2.25 s" in player.info.value and "1 labelled activate" in player.info.value
    assert player.audio.value[:4] == b"RIFF" and len(player.audio.value) == 44 + 2 * x.size
    assert player.png.startswith(PNG)


def test_audio_player_reads_a_wav_path_and_update_redraws(tmp_path):
    from twd_lab.audio import write_wav
    from twd_lab.widgets import AudioPlayer

    x, _, probs = labelled_clip()
    path = write_wav(tmp_path / "clip.wav", x[: SAMPLE_RATE * 3])
    player = AudioPlayer(path)
    assert list(player.axes) == ["spectrogram"] and player.duration_s == pytest.approx(3.0)
    before = player.png
    player.update(probs=probs[:400], triggers=[{"time_s": 1.5}], threshold=0.7)
    assert list(player.axes) == ["spectrogram", "probabilities"] and player.png != before
    assert any(np.allclose(line.get_ydata(), 0.7) for line in player.axes["probabilities"].lines)
    assert "detections: 1.50 s" in player.info.value


def test_widget_display_data_carries_a_static_png_and_a_short_repr():
    from twd_lab.widgets import AudioPlayer

    x, _, _ = labelled_clip()
    player = AudioPlayer(x[:SAMPLE_RATE])
    bundle = player._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "AudioPlayer(1.00 s, 0 detection(s))"


def test_static_copies_carry_the_audio_only_when_asked(monkeypatch):
    import io

    from scipy.io import wavfile

    from twd_lab.widgets import AudioPlayer, embed_audio_in_static_copies
    from twd_lab.widgets._common import STATIC_AUDIO_RATE

    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    player = AudioPlayer(x)
    assert "text/html" not in player._repr_mimebundle_()  # a stored lesson: the picture alone
    monkeypatch.setattr("twd_lab.widgets._common._STATIC_AUDIO", {"on": False})
    embed_audio_in_static_copies()
    page = player._repr_mimebundle_()["text/html"]
    assert page.startswith('<img src="data:image/png;base64,')
    (data,) = [part.split('"')[0] for part in page.split('src="data:audio/wav;base64,')[1:]]
    rate, y = wavfile.read(io.BytesIO(base64.b64decode(data)))
    assert rate == STATIC_AUDIO_RATE and y.size == STATIC_AUDIO_RATE  # one second, at 16 kHz
    assert abs(np.abs(y / 32768).max() - 0.3) < 0.01


# --- SynthesisExplorer ----------------------------------------------------------------------------


@pytest.fixture
def explorer(clips):
    from twd_lab.widgets import SynthesisExplorer

    background, activates, negatives = clips
    return SynthesisExplorer(
        ([activates[0]], negatives, [background, background[::-1].copy()]),
        seed=0,
        n_activates=2,
        n_negatives=1,
    )


def test_synthesis_explorer_highlights_each_inserted_clip_and_plots_y(explorer):
    ex = explorer.example
    assert len(ex.activate_segments) == 2 and len(ex.negative_segments) == 1
    ax_wave, _, ax_y = explorer.figure.axes[:3]
    spans = [p for p in ax_wave.patches]
    assert len(spans) == 3
    starts = sorted(round(p.get_x() * 1000) for p in spans)
    assert starts == sorted(s for s, _ in ex.activate_segments + ex.negative_segments)
    assert [t.get_text() for t in ax_wave.texts] == ["A1", "A2", "N1"]
    np.testing.assert_array_equal(ax_y.lines[0].get_ydata(), ex.y.reshape(-1))
    assert "y has 100 ones" in explorer.info.value
    assert explorer.audio.value == wav_bytes(ex.audio)


def test_synthesis_explorer_resynthesizes_when_a_control_changes(explorer):
    first = explorer.example
    explorer.seed.value = 7
    assert explorer.example.activate_segments != first.activate_segments
    explorer.n_activates.value = 0
    explorer.n_negatives.value = 2
    assert explorer.example.activate_segments == [] and len(explorer.example.negative_segments) == 2
    assert not explorer.example.y.any() and "y has 0 ones" in explorer.info.value
    assert [t.get_text() for t in explorer.figure.axes[0].texts] == ["N1", "N2"]
    assert repr(explorer) == "SynthesisExplorer(seed=7, 0 activates, 2 negatives)"


def test_synthesis_explorer_background_controls_change_the_mix(explorer):
    explorer.n_activates.value = 0
    explorer.n_negatives.value = 0
    loud = explorer.example.audio.copy()
    explorer.background.value = 1
    assert not np.allclose(explorer.example.audio, loud)
    # with nothing inserted the mix is normalised: the background level alone changes nothing audible
    explorer.n_activates.value = 1
    quiet_bg = explorer.example.audio.copy()
    explorer.background_db.value = -5.0
    assert not np.allclose(explorer.example.audio, quiet_bg)


def test_synthesis_explorer_is_reproducible(clips):
    from twd_lab.widgets import SynthesisExplorer

    background, activates, negatives = clips
    a = SynthesisExplorer((activates, negatives, [background]), seed=3)
    b = SynthesisExplorer((activates, negatives, [background]), seed=3)
    np.testing.assert_array_equal(a.example.audio, b.example.audio)
    assert a.info.value == b.info.value


def test_synthesis_explorer_reads_a_lab_style_folder_and_names_backgrounds(raw_folder):
    from twd_lab.widgets import SynthesisExplorer

    explorer = SynthesisExplorer(raw_folder, n_activates=1, n_negatives=1)
    assert [label for label, _ in explorer.background.options] == ["1", "2"]
    assert len(explorer.example.activate_segments) == 1


# --- ThresholdExplorer ----------------------------------------------------------------------------


@pytest.fixture
def scored_clips():
    """Twelve 10 s clips, each with two word ends; the model's bump after each end is 0.35-0.95 high."""
    rng = np.random.default_rng(0)
    probs, ends = [], []
    for _ in range(12):
        p = rng.uniform(0.0, 0.3, TY)
        steps = sorted(rng.choice(np.arange(100, 1300, 10), 2, replace=False))
        for s in steps:
            p[s + 1 : s + 40] = rng.uniform(0.35, 0.95)
        probs.append(p)
        ends.append([s * STEP_S for s in steps])
    return probs, ends, [10.0] * 12


def test_threshold_explorer_shows_the_library_scores_at_the_slider_value(scored_clips):
    from twd_lab.widgets import ThresholdExplorer
    from twd_lab.widgets.threshold_explorer import pooled_scores

    probs, ends, durations = scored_clips
    explorer = ThresholdExplorer(probs, ends, durations)
    expected = pooled_scores(probs, ends, durations, threshold=0.5)
    assert explorer.scores == expected
    assert f"<b>{expected.precision:.3f}</b>" in explorer.table.value
    assert f"<b>{expected.recall:.3f}</b>" in explorer.table.value
    assert f"{expected.hits} of {expected.n_words} words detected" in explorer.table.value


def test_lowering_the_threshold_raises_recall_and_false_accepts(scored_clips):
    from twd_lab.widgets import ThresholdExplorer

    explorer = ThresholdExplorer(*scored_clips, threshold=0.9)
    high = explorer.scores
    image = explorer.png
    explorer.threshold.value = 0.2
    low = explorer.scores
    assert low.recall > high.recall and low.false_accepts_per_hour > high.false_accepts_per_hour
    assert explorer.png != image
    # the current operating point is marked on the DET curve
    marker = explorer.figure.axes[0].lines[-1]
    assert marker.get_xdata()[0] == pytest.approx(low.false_accepts_per_hour)
    assert marker.get_ydata()[0] == pytest.approx(low.miss_rate)


def test_threshold_explorer_recomputes_the_det_curve_when_patience_changes(scored_clips):
    from twd_lab.metrics import det_curve
    from twd_lab.widgets import ThresholdExplorer

    probs, ends, durations = scored_clips
    explorer = ThresholdExplorer(probs, ends, durations, threshold=0.2)
    fa_patience_1 = explorer.scores.false_accepts_per_hour
    explorer.patience.value = 10  # the noise floor rarely stays above 0.2 for 10 steps
    assert explorer.scores.false_accepts_per_hour < fa_patience_1
    expected = det_curve(
        ends,
        probs,
        durations_s=durations,
        thresholds=explorer.thresholds,
        patience=10,
        refractory=explorer.refractory.value,
    )
    np.testing.assert_allclose(explorer.curve.miss_rate, expected.miss_rate)


def test_threshold_explorer_rejects_mismatched_inputs(scored_clips):
    from twd_lab.widgets import ThresholdExplorer

    probs, ends, durations = scored_clips
    with pytest.raises(ValueError, match="one entry per clip"):
        ThresholdExplorer(probs, ends[:-1], durations)


# --- TrainingMonitor ------------------------------------------------------------------------------


def test_training_monitor_draws_each_metric_with_its_validation_curve():
    from twd_lab.widgets import TrainingMonitor

    monitor = TrainingMonitor(display=False, batch_every=2)
    monitor.set_params({"epochs": 3, "steps": 4})
    monitor.on_train_begin()
    assert monitor.widget.epoch_bar.max == 3
    for epoch in range(3):
        monitor.on_epoch_begin(epoch)
        for batch in range(4):
            monitor.on_train_batch_end(batch, {"loss": 1.0 - 0.1 * batch, "accuracy": 0.5})
        assert monitor.widget.batch_bar.value == 4
        assert f"epoch {epoch + 1}, batch 4: loss 0.7000" in monitor.widget.status.value
        monitor.on_epoch_end(
            epoch,
            {
                "loss": 1.0 / (epoch + 1),
                "val_loss": 1.2 / (epoch + 1),
                "accuracy": 0.5 + 0.1 * epoch,
                "val_accuracy": 0.5,
            },
        )
    monitor.on_train_end()
    assert monitor.widget.epoch_bar.value == 3 and "training finished" in monitor.widget.status.value
    assert monitor.panels() == ["loss", "accuracy"]
    loss_ax, acc_ax = monitor.widget.figure.axes
    assert [line.get_label() for line in loss_ax.lines] == ["loss", "val_loss"]
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [1.0, 0.5, 1 / 3])
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [0.5, 0.6, 0.7])
    assert monitor.widget.png.startswith(PNG)


def test_training_monitor_draws_the_metrics_asked_for_in_their_order():
    from twd_lab.widgets import TrainingMonitor

    monitor = TrainingMonitor(display=False, metrics=("loss", "accuracy", "dev_f1"))
    monitor.set_params({"epochs": 1, "steps": 1})
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    monitor.on_epoch_end(
        0,
        {
            "loss": 0.7,
            "accuracy": 0.5,
            "val_accuracy": 0.5,
            "dev_f1": 0.0,
            "dev_recall": 0.0,
            "dev_best_f1": 0.1,
        },
    )
    assert monitor.panels() == ["loss", "accuracy", "dev_f1"]
    assert [ax.get_title() for ax in monitor.widget.figure.axes] == ["loss", "accuracy", "dev_f1"]


@pytest.mark.slow
def test_training_monitor_follows_a_real_keras_fit():
    import keras

    from twd_lab.widgets import TrainingMonitor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    monitor = TrainingMonitor(display=False)
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0, callbacks=[monitor])
    assert len(monitor.history["loss"]) == 2 and len(monitor.history["val_accuracy"]) == 2
    assert monitor.widget.batch_bar.value == monitor.widget.batch_bar.max == 3


# --- KerasStylesStepper ---------------------------------------------------------------------------


@pytest.mark.slow
def test_keras_styles_stepper_shows_code_and_summary_and_proves_equal_outputs():
    from twd_lab.models import model_source
    from twd_lab.widgets import KerasStylesStepper

    stepper = KerasStylesStepper(input_length=200)
    assert "keras.Sequential" in stepper.code.value and "trigger_word_sequential" in stepper.summary.value
    stepper.next()
    assert stepper.style.value == "functional"
    assert "keras.Model(inputs=X_input" in stepper.code.value
    assert model_source("functional").splitlines()[0].replace("->", "-&gt;") in stepper.code.value
    stepper.style.value = "subclassed"
    assert "class TriggerWordModel" in stepper.code.value and "523,329" in stepper.summary.value
    differences = stepper.compare()
    assert set(differences) == {"sequential", "functional", "subclassed"}
    assert max(differences.values()) < 1e-5
    assert "max |output − Functional output|" in stepper.proof.value
    assert "Sequential 523,329, Functional 523,329, Subclassed 523,329 (the same)" in stepper.proof.value
    stepper.next()
    assert stepper.style.value == "sequential"


@pytest.mark.slow
def test_model_summary_keeps_every_column_without_a_terminal_width(monkeypatch):
    import keras

    from twd_lab.widgets.keras_styles import model_summary

    monkeypatch.delenv("COLUMNS", raising=False)  # a kernel started without one: rich assumes 80
    model = keras.Sequential([keras.Input((20, 4)), keras.layers.GRU(3, return_sequences=True)], name="tiny")
    text = model_summary(model, line_length=100)
    lines = text.splitlines()
    assert "Param #" in text and f"{model.count_params()} |" in text  # the last column, not cut off
    assert max(len(line) for line in lines) == 100
    assert not set(text) & set("━┃┏│─")  # drawn in ASCII, so any monospace font lines it up
    assert "COLUMNS" not in os.environ  # put back as it was


# --- DetectionDemo --------------------------------------------------------------------------------


def uploaded(name: str, content: bytes) -> tuple:
    """A ``FileUpload`` value (ipywidgets 8) holding one file."""
    return (
        {
            "name": name,
            "type": "audio/wav",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": WHEN,
        },
    )


def fake_probabilities(samples):
    """A stand-in detector: high for 30 steps after 2 s and after 6 s of a clip, low elsewhere."""
    from twd_lab.detection import expected_steps

    p = np.full(expected_steps(len(samples)), 0.05, np.float32)
    for start_s in (2.0, 6.0):
        k = int(start_s / STEP_S)
        p[k : k + 30] = 0.9
    return p


@pytest.fixture
def demo(clips):
    from twd_lab.widgets import DetectionDemo

    background, activates, _ = clips
    y = np.zeros(TY, np.float32)
    with_tone = background + np.resize(activates[1], background.size)
    examples = {"noise": (background, y), "noise and a tone": (with_tone, None)}
    return DetectionDemo(probabilities=fake_probabilities, examples=examples)


def test_detection_demo_shows_probabilities_detections_and_chimes_them(demo):
    from twd_lab.detection import chime_at, triggers

    assert [round(t.time_s, 1) for t in demo.triggers] == [2.0, 6.0]
    assert demo.triggers == triggers(demo.probs)
    assert list(demo.player.axes) == ["spectrogram", "labels", "probabilities"]
    assert "2 detection(s): 2.03 s, 6.02 s" in demo.message.value
    assert demo.chimed.value == wav_bytes(chime_at(demo.samples, demo.triggers))
    assert demo.chimed.value != demo.player.audio.value  # the chime is audible in the second player


def test_detection_demo_sliders_rerun_only_the_firing_rule(demo, monkeypatch):
    calls = []
    monkeypatch.setattr(demo, "_probabilities", lambda x: calls.append(1) or fake_probabilities(x))
    demo.patience.value = 31  # the bumps last 30 steps: nothing fires
    assert demo.triggers == [] and "0 detection(s): none" in demo.message.value
    demo.patience.value = 1
    demo.threshold.value = 0.95
    assert demo.triggers == []
    demo.threshold.value = 0.5
    demo.refractory.value = 0
    assert len(demo.triggers) == 60  # fires at every step above the threshold
    assert calls == []  # the model never ran again
    # 60 times are summarised, in the message and in the player's line alike
    for text in (demo.message.value, demo.player.info.value):
        assert "(60 in all)" in text and text.count(" s,") < 10, text


def test_detection_demo_switches_clips_and_reads_an_uploaded_wav(demo, tmp_path):
    from twd_lab.audio import write_wav

    demo.source.value = "noise and a tone"
    assert demo.labels is None and list(demo.player.axes) == ["spectrogram", "probabilities"]
    assert "noise and a tone" in demo.player.info.value
    path = write_wav(tmp_path / "mine.wav", np.zeros(SAMPLE_RATE * 8, np.float32) + 0.01)
    demo.upload.value = uploaded("mine.wav", path.read_bytes())
    # heard as `twd-lab detect` hears a file: 0.5 s of silence before it and 1 s after it
    assert demo.title.startswith("your file: mine.wav") and demo.samples.size == SAMPLE_RATE * 9.5
    assert not demo.samples[: SAMPLE_RATE // 2].any() and not demo.samples[-SAMPLE_RATE:].any()
    assert "your file: mine.wav" in demo.player.info.value and len(demo.triggers) == 2


def test_detection_demo_dropdown_and_upload_follow_what_is_shown(demo, tmp_path, monkeypatch):
    from twd_lab.audio import write_wav

    path = write_wav(tmp_path / "mine.wav", np.zeros(SAMPLE_RATE * 8, np.float32) + 0.01)
    demo.upload.value = uploaded("mine.wav", path.read_bytes())
    assert demo.title.startswith("your file: mine.wav")
    assert demo.source.value is None  # the dropdown no longer names the bundled clip
    demo.source.value = "noise"  # back to a bundled clip (even the one shown before the upload)
    assert demo.title == "noise" and demo.upload.value == ()
    runs = []
    monkeypatch.setattr(demo, "set_clip", lambda *a, **k: runs.append(k.get("title")))
    demo.upload.value = uploaded("mine.wav", path.read_bytes())  # the same file again: heard again
    assert runs and runs[0].startswith("your file: mine.wav")


def test_describe_times_summarises_long_lists():
    from twd_lab.widgets._common import describe_times

    assert describe_times([]) == "none" and describe_times([2.031, 6.0]) == "2.03 s, 6.00 s"
    text = describe_times([i / 10 for i in range(171)])
    assert text.startswith("0.00 s, 0.10 s,") and text.endswith("17.00 s (171 in all)") and len(text) < 90


@pytest.mark.slow
def test_detection_demo_switches_to_the_speech_embedding_detector_and_back(clips):
    from twd_lab.detection import preprocess_audio, triggers
    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.widgets import DetectionDemo
    from twd_lab.widgets.detection_demo import heldout_examples

    skip_without_embedding_detector()
    examples = heldout_examples(seeds=(1,))
    demo = DetectionDemo(probabilities=fake_probabilities, examples=examples, patience=5)
    assert demo.patience.value == 5 and demo.message.value.endswith("steps of 7.26 ms)")
    demo.detector.value = "embedding"
    det = EmbeddingDetector.load()
    assert (demo.threshold.value, demo.patience.value) == (det.config.threshold, det.config.patience)
    assert demo.refractory.value == det.refractory_steps
    np.testing.assert_allclose(np.diff(demo.prob_times), 0.08)
    assert demo.probs.size == demo.prob_times.size == 116  # one every 80 ms over 10 s
    clip = next(iter(examples.values()))[0]
    expected = det.detect(preprocess_audio(clip))  # the detector's stream, as every pass runs it
    assert demo.triggers == expected and len(expected) == 2  # the clip's two activates
    # where the clip pass of training fires too (scores differ in the 4th decimal at most)
    assert [t.time_s for t in expected] == [t.time_s for t in det.triggers(clip, SAMPLE_RATE)]
    assert demo.message.value.endswith("steps of 80 ms)")
    line = demo.player.axes["probabilities"].lines[0]
    np.testing.assert_allclose(line.get_xdata(), demo.prob_times)  # drawn at the detector's own times
    demo.detector.value = "lab"
    assert demo.patience.value == 5 and demo.probs.size == TY
    assert demo.triggers == triggers(demo.probs, demo.threshold.value, 5, demo.refractory.value)
    assert len(demo.triggers) == 2


def test_detection_demo_explains_a_missing_embedding_detector_and_stays_on_the_lab_network(demo, monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("embedding head assets/embedding_head.keras is missing")

    monkeypatch.setattr("twd_lab.embedding_detector.EmbeddingDetector.load", missing)
    demo.detector.value = "embedding"
    assert demo.detector.value == "lab" and "embedding_head.keras is missing" in demo.message.value
    assert [round(t.time_s, 1) for t in demo.triggers] == [2.0, 6.0]


@pytest.mark.slow
def test_detection_demo_hears_an_uploaded_recording_of_the_word_alone(tmp_path):
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.widgets import DetectionDemo

    skip_without_embedding_detector()
    word = min((bundled_raw_dir("heldout") / "activates").glob("*.wav"))
    demo = DetectionDemo(
        probabilities=fake_probabilities, examples={"silence": (np.zeros(SAMPLE_RATE), None)}
    )
    demo.detector.value = "embedding"
    demo.upload.value = uploaded(word.name, word.read_bytes())
    assert len(demo.triggers) == 1, demo.message.value


def test_detection_demo_reports_an_unreadable_upload(demo):
    demo.upload.value = uploaded("notes.wav", b"hello")
    assert "could not read the file" in demo.message.value and "not a WAV file" in demo.message.value


def test_detection_demo_reports_a_missing_model_instead_of_failing(clips, monkeypatch):
    from twd_lab.widgets import DetectionDemo

    def missing(*args, **kwargs):
        raise FileNotFoundError("bundled model assets/model.keras is missing. Train one with `twd-lab train`")

    monkeypatch.setattr("twd_lab.models.load_model", missing)
    demo = DetectionDemo(examples={"noise": (clips[0], None)})
    assert "model.keras is missing" in demo.message.value and demo.probs.size == 0
    assert list(demo.player.axes) == ["spectrogram"]


@pytest.mark.slow
def test_detection_demo_runs_a_real_keras_model(clips):
    from twd_lab.detection import expected_steps
    from twd_lab.models import build_model
    from twd_lab.widgets import DetectionDemo

    x = clips[0][: SAMPLE_RATE * 3]
    demo = DetectionDemo(build_model("functional", input_length=None), examples={"3 s of noise": (x, None)})
    assert demo.probs.shape == (expected_steps(x.size),)
    assert np.all((demo.probs >= 0) & (demo.probs <= 1))
