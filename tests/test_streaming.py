"""Streaming: chunk by chunk with the state carried, it hears what the whole-file pass hears."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import SR
from test_detection import decisive_model, speechy

keras = pytest.importorskip("keras")

from twd_lab.inference import (
    RECEPTIVE_FIELD_SAMPLES,
    ChunkedModel,
    _with_fallback,
    chunked_model,
    step_times_s,
)
from twd_lab.streaming import StreamingDetector

from twd_lab.detection import detect_triggerword, preprocess_audio, triggers

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return decisive_model(seed=3)


@pytest.fixture(scope="module")
def detector(model):
    return StreamingDetector(model, threshold=0.5, patience=3, refractory=40)


@pytest.fixture(scope="module")
def audio():
    return preprocess_audio(speechy(7.3, seed=1))  # level-matched, as the whole-file pass sees it


@pytest.mark.parametrize("chunk_s", [0.5, 0.0371, 1.7, 10.0])
def test_chunks_of_any_size_give_the_whole_file_probabilities(detector, model, audio, chunk_s):
    whole = detect_triggerword(audio, model)
    detector.reset()
    detector.process(audio, chunk_s=chunk_s)
    assert detector.probabilities.shape == whole.shape
    assert np.abs(detector.probabilities - whole).max() < 1e-4
    assert detector.steps_seen == whole.size and detector.samples_seen == audio.size


def test_chunks_smaller_than_a_frame_still_add_up(detector, model, audio):
    part = preprocess_audio(audio[: int(0.6 * SR)])  # the level the whole-file pass uses
    detector.reset()
    for a in range(0, part.size, 77):  # 77 samples: less than one hop of 80
        detector.feed(part[a : a + 77])
    np.testing.assert_allclose(detector.probabilities, detect_triggerword(part, model), atol=1e-4)


def test_the_stream_fires_at_the_same_steps_as_the_whole_file(detector, model, audio):
    whole = triggers(detect_triggerword(audio, model), 0.5, 3, 40)
    assert whole, "the test model should fire on this audio"
    detector.reset()
    heard = []
    for a in range(0, audio.size, SR // 2):
        heard.extend(detector.feed(audio[a : a + SR // 2]))
    assert heard == detector.triggers
    assert len(heard) == len(whole)
    step_s = float(step_times_s(1) - step_times_s(0))
    for mine, ref in zip(heard, whole):
        assert abs(mine.time_s - ref.time_s) <= step_s + 1e-9
        assert mine.score == pytest.approx(ref.score, abs=1e-3)


def test_each_half_second_chunk_is_processed_in_well_under_its_length(detector, audio):
    detector.reset()
    detector.process(audio, chunk_s=0.5)
    assert max(detector.compute_s) < 0.5  # the decision comes before the next chunk has arrived


def test_reset_starts_the_clock_again(detector, audio):
    detector.reset()
    detector.process(audio[:SR])
    first = detector.probabilities.copy()
    detector.reset()
    assert detector.steps_seen == 0 and detector.time_s == 0 and detector.triggers == []
    detector.process(audio[:SR])
    np.testing.assert_array_equal(detector.probabilities, first)


def test_nothing_is_decided_before_the_receptive_field_is_full(detector):
    detector.reset()
    assert detector.feed(np.zeros(0, np.float32)) == []
    detector.feed(np.full(RECEPTIVE_FIELD_SAMPLES - 1, 0.01, np.float32))
    assert detector.steps_seen == 0
    detector.feed(np.full(1, 0.01, np.float32))
    assert detector.steps_seen == 1


@pytest.mark.parametrize(
    "bad", [np.zeros((100, 2), np.float32), np.zeros(100, np.int16), np.array([0.0, np.inf], np.float32)]
)
def test_bad_chunks_raise_value_error(detector, bad):
    with pytest.raises(ValueError):
        detector.feed(bad)


def test_a_model_without_the_lab_layers_cannot_stream():
    inputs = keras.Input((None, 101))
    other = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Conv1D(4, 15, strides=4)(inputs)))
    with pytest.raises(ValueError, match="not the lab network"):
        chunked_model(other)
    with pytest.raises(ValueError, match="conv"):
        ChunkedModel(other)


def test_bad_settings_are_refused_at_construction(model):
    with pytest.raises(ValueError, match="chunk_s"):
        StreamingDetector(model, chunk_s=0, warm_up=False)
    with pytest.raises(ValueError, match="patience"):
        StreamingDetector(model, patience=0, warm_up=False)


def test_listening_without_sounddevice_says_how_to_install_it(detector, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(RuntimeError, match="pip install sounddevice"):
        detector.listen(1.0)


def test_without_xla_the_probabilities_are_the_same(model, audio, monkeypatch):
    monkeypatch.setenv("TWD_LAB_XLA", "0")
    plain = ChunkedModel(model)
    monkeypatch.delenv("TWD_LAB_XLA")
    xla = ChunkedModel(model)
    frames = np.random.default_rng(0).gamma(1.0, 300.0, size=(700, 101)).astype(np.float32)
    np.testing.assert_allclose(plain.probabilities(frames), xla.probabilities(frames), atol=1e-5)


def test_a_failing_xla_compilation_falls_back_for_good():
    calls = []

    def broken(x):
        calls.append("xla")
        raise NotImplementedError("no XLA here")

    def plain(x):
        calls.append("plain")
        return x + 1

    fn = _with_fallback(broken, plain, (NotImplementedError,))
    with pytest.warns(UserWarning, match="XLA"):
        assert fn(1) == 2
    assert fn(2) == 3
    assert calls == ["xla", "plain", "plain"]


def test_the_runner_cache_does_not_keep_a_model_alive():
    import gc
    import weakref

    other = decisive_model(seed=8)
    detect_triggerword(speechy(0.5), other)
    ref = weakref.ref(other)
    del other
    gc.collect()
    assert ref() is None


def test_finish_hears_silence_after_the_stream_and_matches_the_padded_whole_file_pass(detector, model, audio):
    from twd_lab.detection import pad_edges, probabilities

    detector.reset()
    detector.process(audio)
    detector.finish(0.5)
    assert detector.time_s == pytest.approx(audio.size / SR) and detector.finished
    whole = probabilities(pad_edges(audio, 0.0, 0.5), model)
    np.testing.assert_allclose(detector.probabilities, whole[: detector.steps_seen], atol=2e-5)
    assert detector.steps_seen > probabilities(audio, model).size  # steps decided in the silence
    with pytest.raises(ValueError, match="reset"):
        detector.feed(audio[:10])
    detector.reset()
