"""The speech-embedding detector as a stream: chunk by chunk, it hears what the whole-file pass hears."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from conftest import SR
from twd_lab.file_detection import embedding_detector_available

pytestmark = pytest.mark.skipif(
    not embedding_detector_available(),
    reason='needs onnxruntime, openwakeword (pip install "twd-lab[embedding]") and assets/embedding_head.keras',
)

pytest.importorskip("keras")

from twd_lab import embedding as E
from twd_lab import embedding_streaming as S
from twd_lab.embedding_detector import EmbeddingDetector, step_triggers
from twd_lab.metrics import find_triggers


@pytest.fixture(scope="module")
def detector():
    return EmbeddingDetector.load()


@pytest.fixture(scope="module")
def stream(detector):
    return S.EmbeddingStreamingDetector(detector)


@pytest.fixture(scope="module")
def clip():
    """A 10 s clip with two "activate"s from held-out voices, at -20 dBFS, over a noisy room's floor (white
    noise 40 dB below the mix): no part of it is 80 dB quieter than another, so the mel model's clamp never
    acts (with the floor 60 dB below it does, in the top mel band: resampling leaves little near 8 kHz)."""
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio
    from twd_lab.detection import preprocess_audio
    from twd_lab.synthesis import synthesize_example

    activates, negatives, backgrounds = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    ex = synthesize_example(backgrounds[1], activates, negatives, rng=3, n_activates=2)
    floor = np.random.default_rng(0).normal(0, 1e-2, ex.audio.size).astype(np.float32)
    return preprocess_audio(ex.audio + floor)


@pytest.fixture(scope="module")
def whole(detector, clip):
    return detector.probabilities(clip, SR)[0]


def test_the_clip_never_meets_the_mel_models_clamp(clip):
    mel = E.mel_frames(E.to_16k(clip, SR))
    assert mel.min() > mel.max() - E.MEL_TOP_DB / 10 + 0.5  # scaled units: dB / 10


@pytest.mark.parametrize("chunk", [37, 4410, 11_025, 44_100, 441_000])
def test_chunks_of_any_size_give_the_whole_file_probabilities_and_triggers(
    stream, detector, clip, whole, chunk
):
    part = clip if chunk >= 4410 else clip[: 3 * SR]  # 37-sample chunks: 3 s is enough and fast
    stream.reset()
    heard = []
    for a in range(0, part.size, chunk):
        heard.extend(stream.feed(part[a : a + chunk]))
    n = stream.steps_seen
    assert n >= E.n_steps(len(E.to_16k(part, SR))) - 1  # at most the last step is still to come
    np.testing.assert_allclose(stream.probabilities, whole[:n], atol=1e-5)
    rule = stream.picker.threshold, stream.picker.patience, stream.picker.refractory
    fired = find_triggers(whole[:n], *rule)
    assert heard == stream.triggers == step_triggers(fired, whole[fired])
    if part is clip:
        assert n == len(whole)
        assert len(heard) == 2 and heard == detector.triggers(clip, SR)


def test_one_sample_at_a_time_adds_up(stream, clip, whole):
    part = clip[: int(1.2 * SR)]
    stream.reset()
    assert stream.feed(np.zeros(0, np.float32)) == []
    for a in range(part.size):
        stream.feed(part[a : a + 1])
    assert stream.steps_seen == 6 and stream.samples_seen == part.size  # step 5 ends at 1.182 s
    np.testing.assert_allclose(stream.probabilities, whole[:6], atol=1e-5)


def test_a_step_is_decided_a_few_ms_after_its_audio_ends(stream, clip):
    stream.reset()
    end = float(E.step_end_s(0))  # 0.782 s
    stream.feed(clip[: int(end * SR)])
    assert stream.steps_seen == 0
    stream.feed(clip[int(end * SR) : int((end + 0.011) * SR)])
    assert stream.steps_seen == 1


def test_quiet_audio_is_clamped_against_what_was_heard_so_far(detector):
    # The mel model raises values to 80 dB below the loudest of its input. A whole file clamps quiet
    # audio against louder audio that comes after it; a stream can only use what it has heard.
    rng = np.random.default_rng(1)
    quiet = rng.normal(0, 1e-5, 2 * SR).astype(np.float32)  # -100 dBFS: clamped next to the loud part
    loud = rng.normal(0, 0.3, 2 * SR).astype(np.float32)
    stream = S.EmbeddingStreamingDetector(detector)
    loud_first = np.concatenate([loud, quiet])
    stream.process(loud_first)
    whole = detector.probabilities(loud_first, SR)[0]
    np.testing.assert_allclose(stream.probabilities, whole[: stream.steps_seen], atol=1e-5)

    stream.reset()
    stream.process(np.concatenate([quiet, loud]))
    alone = detector.probabilities(quiet, SR)[0]  # what was heard when those steps were decided
    np.testing.assert_allclose(stream.probabilities[: len(alone)], alone, atol=1e-5)


def test_reset_forgets_everything(stream, clip):
    stream.reset()
    stream.process(clip[: 2 * SR])
    first = stream.probabilities.copy()
    stream.reset()
    assert stream.steps_seen == 0 and stream.samples_seen == 0 and stream.time_s == 0
    assert stream.triggers == [] and stream.probabilities.size == 0
    stream.process(clip[: 2 * SR])
    np.testing.assert_array_equal(stream.probabilities, first)


def test_a_long_stream_keeps_bounded_buffers_and_no_history(detector, monkeypatch):
    monkeypatch.setattr("twd_lab.detectors.live.KEEP_TIMINGS", 4)
    stream = S.EmbeddingStreamingDetector(detector, keep_probabilities=False)
    noise = np.random.default_rng(2).normal(0, 0.05, 25 * SR).astype(np.float32)
    stream.process(noise, chunk_s=1.0)
    assert stream.probabilities.size == 0
    assert stream.steps_seen >= E.n_steps(len(E.to_16k(noise, SR))) - 1
    sizes = stream.buffer_lengths
    assert sizes["samples_44k"] < S.LEFT_CONTEXT + S.IN_BLOCK + S.RIGHT_CONTEXT
    assert sizes["samples_16k"] < (S.EmbeddingStream.MEL_BLOCK - 1) * E.MEL_HOP + E.MEL_WINDOW
    assert sizes["embedding_steps"] < E.WINDOW_FRAMES
    assert sizes["embeddings"] == detector.config.history - 1
    assert sizes["loudness_blocks"] <= S.LOUDNESS_FRAMES // S.EmbeddingStream.MEL_BLOCK + 1  # 10 s of blocks
    assert len(stream.compute_s) <= 8


@pytest.mark.parametrize(
    "bad", [np.zeros((100, 2), np.float32), np.zeros(100, np.int16), np.array([0.0, np.nan], np.float32)]
)
def test_bad_chunks_raise_value_error(stream, bad):
    with pytest.raises(ValueError, match="samples"):
        stream.feed(bad)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"chunk_s": 0}, ValueError, "chunk_s"),
        ({"threshold": 1.5}, ValueError, "threshold"),
        ({"threshold": "high"}, ValueError, "threshold"),
        ({"patience": 0}, ValueError, "patience"),
        ({"patience": 1.5}, ValueError, "patience"),
        ({"refractory_s": -1.0}, ValueError, "refractory_s"),
        ({"gain_db": float("inf")}, ValueError, "gain_db"),
    ],
)
def test_bad_settings_are_refused_at_construction(detector, kwargs, error, match):
    with pytest.raises(error, match=match):
        S.EmbeddingStreamingDetector(detector, **kwargs)


def test_the_detector_must_be_an_embedding_detector():
    with pytest.raises(TypeError, match="EmbeddingDetector"):
        S.EmbeddingStreamingDetector("assets/embedding_head.keras")


def test_the_firing_rule_defaults_to_the_detectors_own(detector):
    stream = S.EmbeddingStreamingDetector(detector, patience=3, refractory_s=0.4)
    assert stream.picker.threshold == detector.config.threshold
    assert stream.picker.patience == 3 and stream.refractory_steps == 5
    assert S.EmbeddingStreamingDetector(detector).refractory_steps == detector.refractory_steps


# ------------------------------------------------------------------------------- the microphone


def fake_sounddevice(audio: np.ndarray) -> types.ModuleType:
    """A ``sounddevice`` whose microphone plays ``audio``, then silence."""

    class InputStream:
        def __init__(self, samplerate, channels, dtype, blocksize, device=None):
            assert (samplerate, channels, dtype) == (SR, 1, "float32")
            self.pos = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            block = np.zeros((n, 1), np.float32)
            piece = audio[self.pos : self.pos + n]
            block[: piece.size, 0] = piece
            self.pos += n
            return block, False

    module = types.ModuleType("sounddevice")
    module.InputStream = InputStream
    module.PortAudioError = type("PortAudioError", (Exception,), {})
    module.query_devices = lambda device=None, kind=None: {"name": "fake microphone", "max_input_channels": 1}
    return module


def test_listen_hears_the_words_on_a_microphone(stream, detector, clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(clip))
    stream.reset()
    said = []
    heard = stream.listen(10.5, on_trigger=said.append)
    assert heard == said == detector.triggers(clip, SR)


def test_twd_lab_listen_streams_the_embedding_detector(clip, monkeypatch, capsys):
    from twd_lab.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(clip))
    assert main(["listen", "--detector", "embedding", "--seconds", "10.5"]) == 0
    out = capsys.readouterr().out
    assert "speech-embedding detector" in out
    assert out.count("activate! at") == 2 and "heard 2 time(s) in 10.5 s" in out


def test_twd_lab_listen_takes_refractory_in_embedding_steps(clip, monkeypatch, capsys):
    from twd_lab.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(clip))
    # a huge refractory: it fires once, the second word falls inside it
    assert main(["listen", "--seconds", "10", "--refractory", "1000", "--patience", "1"]) == 0
    assert "heard 1 time(s)" in capsys.readouterr().out


def test_twd_lab_listen_refuses_a_head_with_the_lab_network(clip, monkeypatch, capsys):
    from twd_lab.cli import main

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(clip))
    assert main(["listen", "--detector", "lab", "--head", "x.keras", "--seconds", "1"]) == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("twd-lab: error: ") and "head" in line


def test_twd_lab_listen_with_a_lab_model_streams_the_lab_network(monkeypatch, capsys):
    import twd_lab.detectors.live
    from twd_lab.cli import main

    made = {}

    class Recorder:
        def __init__(self, detector, **kwargs):
            made.update(kwargs, detector=detector)
            self.time_s = 0.0

        def listen(self, seconds):
            return []

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(np.zeros(1, np.float32)))
    monkeypatch.setattr(twd_lab.detectors.live, "StreamingBase", Recorder)
    assert main(["listen", "--detector", "lab", "--seconds", "1"]) == 0
    assert "the lab network" in capsys.readouterr().out
    assert made["detector"].kind == "lab"
    assert (made["rule"].threshold, made["rule"].patience, made["rule"].refractory) == (0.5, 1, 75)


def test_finish_hears_a_word_said_just_before_the_stream_ends(stream, detector):
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.detection import preprocess_audio

    word = preprocess_audio(min((bundled_raw_dir("heldout") / "activates").glob("*.wav")))
    stream.reset()
    assert stream.process(word) == []  # the stream ends before the detector can decide
    (trigger,) = stream.finish()
    assert stream.time_s == pytest.approx(word.size / SR)  # the stream's own length, not the silence
    assert stream.time_s < trigger.time_s <= stream.time_s + 1.0
    assert stream.triggers == [trigger] and stream.finished
    with pytest.raises(ValueError, match="reset"):
        stream.feed(word)
    with pytest.raises(ValueError, match="tail_s"):
        stream.finish(-1)
    stream.reset()
    assert not stream.finished and stream.feed(word[:100]) == []
