"""Detection: any length, any common WAV, bad input answered clearly, input files never changed, the chime."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from conftest import SR, noise, skip_without_embedding_detector, tone

keras = pytest.importorskip("keras")

from twd_lab.file_detection import detect_file

from twd_lab.audio import AudioFileError, dbfs, read_wav
from twd_lab.constants import DETECT_TAIL_S, PCM16_SCALE, TARGET_DBFS
from twd_lab.detection import (
    RECEPTIVE_FIELD_SAMPLES,
    Trigger,
    chime_at,
    chime_on_activate,
    detect_triggerword,
    expected_steps,
    load_chime,
    pad_edges,
    preprocess_audio,
    step_times_s,
    triggers,
)
from twd_lab.metrics import find_triggers
from twd_lab.models import build_model
from twd_lab.spectrogram import spectrogram

pytestmark = pytest.mark.slow


def decisive_model(seed: int = 0):
    """The lab network with random (seeded) weights and a steep output, so probabilities span 0..1."""
    keras.utils.set_random_seed(seed)
    model = build_model("functional", input_length=None)
    kernel, bias = model.get_layer("output").get_weights()
    model.get_layer("output").set_weights([kernel * 40.0, bias])
    return model


@pytest.fixture(scope="module")
def model():
    return decisive_model()


def speechy(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise whose loudness comes and goes, so the detector's output moves."""
    x = noise(seconds, 0.2, seed=seed)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * np.arange(x.size) / SR)
    return (x * env).astype(np.float32)


def snapshot(path):
    st = os.stat(path)
    return path.read_bytes(), st.st_mtime_ns


# ----------------------------------------------------------------------------------- any length


@pytest.mark.parametrize("n_samples", [RECEPTIVE_FIELD_SAMPLES, 3 * SR + 17, int(4.3 * SR)])
def test_probabilities_equal_one_plain_model_call_for_any_length(model, n_samples):
    audio = speechy(n_samples / SR)[:n_samples]
    probs = detect_triggerword(audio, model)
    x = spectrogram(preprocess_audio(audio) * np.float32(PCM16_SCALE)).T[None]
    expected = np.asarray(model.predict_on_batch(x))[0, :, 0]
    assert probs.shape == (expected_steps(n_samples),) == expected.shape
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, atol=2e-5)


def test_step_counts_follow_the_lab_for_10_s_and_scale_with_length():
    assert expected_steps(441_000) == 1375
    assert expected_steps(60 * SR) == 8265  # (2,646,000 - 1,320) // 320 + 1: 6 x 10 s is not 6 x 1375
    assert expected_steps(RECEPTIVE_FIELD_SAMPLES) == 1
    assert expected_steps(RECEPTIVE_FIELD_SAMPLES - 1) == 0


def test_audio_shorter_than_the_receptive_field_has_no_steps_and_no_triggers(model):
    probs = detect_triggerword(tone(0.02), model)  # 882 samples < 1,320
    assert probs.shape == (0,)
    assert triggers(probs) == []


def test_silence_gives_finite_probabilities_not_nan(model):
    probs = detect_triggerword(np.zeros(2 * SR, np.float32), model)
    assert probs.shape == (expected_steps(2 * SR),)
    assert np.all(np.isfinite(probs))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(0, np.float32), "at least one sample"),
        (np.array([0.1, np.nan] * 1000, np.float32), "NaN"),
        (np.zeros((10, 10, 2), np.float32), "shape"),
        (np.array(["a"] * 2000), "numeric"),
    ],
)
def test_bad_sample_arrays_raise_a_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        detect_triggerword(bad)  # raised before any model is needed


def test_plot_draws_the_spectrogram_and_the_probabilities_and_returns_them(model):
    from matplotlib.figure import Figure

    axes = Figure().subplots(2, 1)
    audio = speechy(2.0)
    probs = detect_triggerword(audio, model, plot=True, ax=axes)
    np.testing.assert_array_equal(probs, detect_triggerword(audio, model))
    assert axes[0].images and axes[1].lines
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), probs)


def test_the_callers_array_is_not_changed(model):
    audio = speechy(1.0)
    before = audio.copy()
    clip = preprocess_audio(audio)
    clip *= 0  # the result is a new array, not a view of the input
    detect_triggerword(audio, model)
    np.testing.assert_array_equal(audio, before)


# ----------------------------------------------------------------------------- preprocess_audio


def test_preprocess_audio_level_matches_keeps_length_and_never_writes(wav_file):
    path = wav_file(tone(3.5, amp=0.05), "i16")
    before = snapshot(path)
    listing = sorted(os.listdir(path.parent))
    clip = preprocess_audio(path)
    assert clip.dtype == np.float32 and clip.shape == (round(3.5 * SR),)
    assert math.isclose(dbfs(clip), TARGET_DBFS, abs_tol=0.01)
    assert snapshot(path) == before
    assert sorted(os.listdir(path.parent)) == listing


def test_preprocess_audio_keeps_silence_silent():
    clip = preprocess_audio(np.zeros(SR, np.float32))
    assert np.all(clip == 0)


def test_preprocess_audio_resamples_and_mixes_down_arrays():
    stereo = np.stack([tone(1.0, sr=16_000), tone(1.0, sr=16_000)], axis=1)
    clip = preprocess_audio(stereo, sample_rate=16_000)
    assert clip.shape == (SR,)
    as_int = preprocess_audio(np.round(tone(1.0) * 32767).astype(np.int16))
    np.testing.assert_allclose(as_int, preprocess_audio(tone(1.0)), atol=1e-3)


# -------------------------------------------------------------------- any common WAV, untouched


FORMATS = [
    ("u8", SR, 1),
    ("i16", SR, 1),
    ("i24", SR, 1),
    ("i24x", SR, 2),
    ("i32", SR, 1),
    ("f32", SR, 1),
    ("f64", SR, 1),
    ("i16", SR, 2),
    ("i16", 8_000, 1),
    ("i16", 16_000, 2),
    ("f32", 22_050, 1),
    ("i16", 48_000, 1),
    ("i32", 96_000, 2),
]


@pytest.mark.parametrize("kind, rate, channels", FORMATS)
def test_every_common_wav_is_detected_and_left_unchanged(model, wav_file, kind, rate, channels):
    x = speechy(0.8)
    if rate != SR:
        from twd_lab.audio import resample

        x = resample(x, SR, rate)
    if channels == 2:
        x = np.stack([x, x], axis=1)
    path = wav_file(x, kind, rate)
    before = snapshot(path)
    probs = detect_triggerword(path, model)
    n = read_wav(path).shape[0]
    assert probs.shape == (expected_steps(n),) and probs.size > 0
    assert np.all(np.isfinite(probs))
    assert snapshot(path) == before


def test_the_same_audio_in_16_bit_and_float_gives_nearly_the_same_probabilities(model, wav_file):
    x = speechy(1.5)
    p16 = detect_triggerword(wav_file(x, "i16"), model)
    p32 = detect_triggerword(wav_file(x, "f32"), model)
    np.testing.assert_allclose(p16, p32, atol=2e-2)


def test_broken_files_raise_clear_errors_and_stay_unchanged(tmp_path, wav_file):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    good = wav_file(tone(1.0), "i16", name="good.wav")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:5000])
    no_samples = wav_file(np.zeros(0, np.float32), "i16", name="no_samples.wav")
    for path, match in [
        (empty, "empty"),
        (text, "not a WAV"),
        (truncated, "truncated"),
        (no_samples, "no audio"),
    ]:
        before = snapshot(path)
        with pytest.raises(AudioFileError, match=match):
            detect_triggerword(path)
        assert snapshot(path) == before
    with pytest.raises(FileNotFoundError):
        detect_triggerword(tmp_path / "missing.wav")
    with pytest.raises(IsADirectoryError):
        detect_triggerword(tmp_path)


def test_a_too_short_file_gives_an_empty_answer(model, wav_file):
    path = wav_file(tone(0.01), "i16")
    assert detect_triggerword(path, model).shape == (0,)


# ------------------------------------------------------------------------------------- triggers


def test_triggers_use_find_triggers_and_report_when_each_step_is_decided():
    rng = np.random.default_rng(0)
    probs = rng.random(1375).astype(np.float32)
    for threshold, patience, refractory in [(0.5, 1, 75), (0.9, 2, 10), (0.3, 5, 0)]:
        steps = find_triggers(probs, threshold, patience, refractory)
        found = triggers(probs, threshold, patience, refractory)
        assert [t.time_s for t in found] == [round(float(t), 4) for t in step_times_s(steps)]
        assert [t.score for t in found] == [round(float(probs[s]), 4) for s in steps]


def test_trigger_times_are_when_the_step_is_decided_and_accept_the_lab_shape():
    probs = np.zeros((1, 1375, 1), np.float32)
    probs[0, 700:760, 0] = 0.9
    (fired,) = triggers(probs, patience=20)
    assert isinstance(fired, Trigger)
    assert fired.time_s == round((719 * 320 + 1320) / SR, 4) and fired.score == 0.9
    # the last step of a 10 s clip is decided when the clip ends
    assert step_times_s(1374) == pytest.approx(10.0)


def test_triggers_refuse_nan():
    with pytest.raises(ValueError, match="finite"):
        triggers([0.1, float("nan")])


# ---------------------------------------------------------------------------------------- chime


def test_chime_at_adds_the_chime_where_it_fires_and_keeps_the_length():
    audio = np.zeros(3 * SR, np.float32)
    bell = load_chime()
    out = chime_at(audio, [Trigger(1.0, 0.9)])
    assert out.shape == audio.shape and np.all(audio == 0)
    start = SR
    n = min(bell.size, out.size - start)
    np.testing.assert_allclose(out[start : start + n], np.clip(bell[:n], -1, 1))
    assert np.all(out[:start] == 0)
    # integer steps are placed at the time the step is decided
    by_step = chime_at(audio, np.array([100]))
    assert np.flatnonzero(by_step)[0] >= round(step_times_s(100) * SR)


def test_chime_on_activate_writes_a_new_file_and_never_the_input(tmp_path, wav_file):
    path = wav_file(tone(2.0, amp=0.1), "i16")
    before = snapshot(path)
    probs = np.zeros(expected_steps(2 * SR), np.float32)
    probs[100:130] = 0.95
    out = tmp_path / "chimed.wav"
    result = chime_on_activate(path, probs, out)
    assert result.path == out and out.is_file()
    assert [round(t.time_s, 3) for t in result.triggers] == [round(float(step_times_s(100)), 3)]
    written = read_wav(out)
    assert written.shape == (2 * SR,)
    assert np.abs(written - result.audio).max() < 1e-4
    assert snapshot(path) == before
    with pytest.raises(ValueError, match="input"):
        chime_on_activate(path, probs, path, overwrite=True)
    with pytest.raises(FileExistsError):
        chime_on_activate(path, probs, out)
    chime_on_activate(path, probs, out, overwrite=True)
    assert snapshot(path) == before


def test_chime_on_activate_explains_the_labs_positional_threshold(wav_file):
    path = wav_file(tone(1.0), "i16")
    with pytest.raises(TypeError, match="threshold="):
        chime_on_activate(path, np.zeros(expected_steps(SR)), 0.5)


def test_chime_on_activate_refuses_predictions_for_other_audio(wav_file):
    path = wav_file(tone(1.0), "i16")
    with pytest.raises(ValueError, match="steps"):
        chime_on_activate(path, np.zeros(1375))


def test_chime_on_activate_computes_probabilities_when_none_are_given(model, tmp_path):
    audio = speechy(2.0)
    result = chime_on_activate(audio, None, tmp_path / "c.wav", model=model)
    probs = detect_triggerword(audio, model)
    assert result.triggers == triggers(probs)


# ------------------------------------------------------------------------------- other models


def test_a_model_that_is_not_the_lab_network_runs_as_one_call():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None, 101))
    x = keras.layers.Conv1D(8, 15, strides=4)(inputs)
    other = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    audio = speechy(1.0)
    probs = detect_triggerword(audio, other)
    assert probs.shape == (expected_steps(audio.size),)


def test_new_weights_in_the_same_model_object_are_used(model):
    audio = speechy(1.0)
    other = decisive_model(seed=5)
    first = detect_triggerword(audio, other)
    other.set_weights(model.get_weights())
    np.testing.assert_allclose(detect_triggerword(audio, other), detect_triggerword(audio, model), atol=1e-5)
    assert not np.allclose(first, detect_triggerword(audio, other))


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model"):
        detect_triggerword(tone(1.0), tmp_path / "nope.keras")


# -------------------------------------------------------------------------- the shipped model


def test_the_shipped_model_fires_near_the_end_of_activate_on_held_out_voices():
    from twd_lab.assets_index import bundled_raw_dir, model_path

    try:
        model_path()
        raw = bundled_raw_dir("heldout")
    except FileNotFoundError as exc:
        pytest.skip(f"needs the shipped model and assets: {exc}")
    from twd_lab.audio import load_raw_audio
    from twd_lab.metrics import event_scores
    from twd_lab.synthesis import synthesize_example

    acts, negs, bgs = load_raw_audio(raw, as_arrays=True)
    total = None
    for seed in range(4):
        ex = synthesize_example(bgs[seed % len(bgs)], acts, negs, rng=seed, n_activates=2, n_negatives=1)
        fired = triggers(detect_triggerword(ex.audio))
        s = event_scores([e / 1000 for _, e in ex.activate_segments], [t.time_s for t in fired], 10.0)
        total = s if total is None else total + s
    assert total.recall >= 0.5, total


@pytest.mark.parametrize("style, output_layer", [("sequential", "dense"), ("subclassed", "time_distributed")])
def test_every_model_style_runs_in_the_fast_blocks_with_the_same_result(style, output_layer):
    from twd_lab.inference import chunked_model

    keras.utils.set_random_seed(4)
    other = build_model(style, input_length=None, output_layer=output_layer)
    chunked_model(other)  # the lab network in any style is run block by block, not as one plain call
    audio = speechy(1.2)
    x = spectrogram(preprocess_audio(audio) * np.float32(PCM16_SCALE)).T[None]
    np.testing.assert_allclose(
        detect_triggerword(audio, other), np.asarray(other.predict_on_batch(x))[0, :, 0], atol=2e-5
    )


# -------------------------------------------------------------------- a word at a file's very edge


def test_pad_edges_puts_silence_around_a_copy_and_checks_its_lengths():
    x = np.linspace(-0.5, 0.5, 441, dtype=np.float32)
    y = pad_edges(x, 0.01, 0.02)
    assert y.shape == (441 + 441 + 882,) and y.dtype == np.float32
    np.testing.assert_array_equal(y[441:882], x)
    assert not y[:441].any() and not y[882:].any()
    assert x[0] == np.float32(-0.5)  # the input is untouched
    np.testing.assert_array_equal(pad_edges(x, 0, 0), x)
    for bad in ({"lead_s": -1}, {"tail_s": float("nan")}, {"tail_s": 61}):
        with pytest.raises(ValueError, match="lead_s|tail_s"):
            pad_edges(x, **bad)


def _embedding_detector_or_skip():
    from twd_lab.file_detection import load_detector

    skip_without_embedding_detector()
    return load_detector("embedding")[0]


def _found(paths, detector, **pad) -> list[list[float]]:
    return [[t["time_s"] for t in detect_file(p, detector, **pad)["triggers"]] for p in paths]


def test_a_file_of_the_word_alone_is_heard_only_with_the_padding(tmp_path):
    """Recordings of "activate" alone end right after the word, before the detector fires."""
    from twd_lab.assets_index import bundled_raw_dir

    detector = _embedding_detector_or_skip()
    words = sorted((bundled_raw_dir("heldout") / "activates").glob("*.wav"))[::12][:8]
    padded = _found(words, detector)
    bare = _found(words, detector, lead_s=0.0, tail_s=0.0)
    assert sum(len(f) == 1 for f in padded) >= 7, padded
    assert sum(len(f) > 0 for f in bare) <= 2, bare
    for path, fired in zip(words, padded):
        duration = detect_file(path, detector, lead_s=0, tail_s=0)["duration_s"]
        assert all(0 < t <= duration + DETECT_TAIL_S for t in fired), (path.name, fired, duration)


def test_a_trigger_after_the_files_end_still_gets_its_chime(tmp_path):
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import read_wav

    detector = _embedding_detector_or_skip()
    words = sorted((bundled_raw_dir("heldout") / "activates").glob("*.wav"))
    for word in words[:20]:
        result = detect_file(word, detector)
        late = [t["time_s"] for t in result["triggers"] if t["time_s"] >= result["duration_s"]]
        if late:
            break
    else:
        pytest.skip("no held-out word fired after its file's end")
    out = tmp_path / "chimed.wav"
    detect_file(word, detector, chime_out=out)
    chimed, original = read_wav(out), read_wav(word)
    assert chimed.size == original.size + round(DETECT_TAIL_S * SR)
    start = round(late[0] * SR)
    assert np.abs(chimed[start : start + 2000]).max() > 0.01  # the chime is in the added tail


def test_every_real_recording_of_the_word_alone_is_heard_and_no_other_word_is():
    from twd_lab.evaluation import real_speech_dir

    real = real_speech_dir()
    if real is None:
        pytest.skip("needs ../shared/real_speech/coursera (not in a user's clone)")
    detector = _embedding_detector_or_skip()
    words = _found(sorted((real / "activates").glob("*.wav")), detector)
    others = _found(sorted((real / "negatives").glob("*.wav")), detector)
    assert [len(f) for f in words] == [1] * 10, words
    assert others == [[]] * 10, others
