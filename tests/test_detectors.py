"""The one detector interface: a contract every implementation passes, and files streamed in blocks.

Run over every detector: the lab network, the shipped speech-embedding detector (NumPy head), and a
speech-embedding detector with a Keras head of its own (as a personalised head runs when it has no NumPy
copy). Chunked equals whole, times are the detector's step times, memory does not grow with time, bad
chunks are refused, and a file cut into pieces and streamed gives what the whole file gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, skip_without_embedding_detector

pytest.importorskip("keras")

from twd_lab.detectors import Detector, FiringRule, LabDetector, detect_blocks, detect_file

IMPLEMENTATIONS = ["lab", "embedding", "embedding_keras_head"]


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def detector(request) -> Detector:
    if request.param == "lab":
        return LabDetector()
    skip_without_embedding_detector()
    from twd_lab.detectors import EmbeddingDetector

    shipped = EmbeddingDetector.load()
    if request.param == "embedding":
        return shipped
    import keras

    from twd_lab.embedding_detector import build_head

    keras.utils.set_random_seed(0)
    head = build_head(shipped.config.history)
    untrained = EmbeddingDetector(head, shipped.config)  # a head with no NumPy copy runs in Keras
    untrained.untrained = True  # its probabilities mean nothing; only the contract is checked
    return untrained


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """12 s of two held-out examples end to end, level-matched (44.1 kHz)."""
    from twd_lab.assets_index import bundled_raw_dir
    from twd_lab.audio import load_raw_audio
    from twd_lab.detection import preprocess_audio
    from twd_lab.synthesis import synthesize_example

    acts, negs, bgs = load_raw_audio(bundled_raw_dir("heldout"), as_arrays=True)
    parts = [synthesize_example(bgs[i], acts, negs, rng=i, n_activates=1).audio for i in (0, 1)]
    return preprocess_audio(np.concatenate(parts)[: 12 * SR])


def _feed(stream, x, cuts):
    out = [stream.feed(part) for part in np.split(x, cuts)]
    return np.concatenate([p for p, _ in out]), np.concatenate([t for _, t in out])


def test_it_offers_the_interface(detector):
    assert isinstance(detector, Detector) and detector.kind in ("lab", "embedding")
    assert 0 < detector.step_s < 1
    rule = detector.rule
    assert isinstance(rule, FiringRule) and 0 < rule.threshold < 1 and rule.patience >= 1
    times = detector.step_times(np.arange(5))
    np.testing.assert_allclose(np.diff(times), detector.step_s, rtol=1e-9)
    assert times[0] > 0  # a step is decided after the audio it reads


def test_chunks_of_any_size_give_the_whole_pass(detector, speech):
    whole, whole_t = detector.hear(speech)
    assert whole.size == whole_t.size > 100 and np.all((whole >= 0) & (whole <= 1))
    rng = np.random.default_rng(1)
    for cuts in (np.arange(1, 40) * 331, np.sort(rng.choice(speech.size, 60, replace=False))):
        probs, times = _feed(detector.stream(), speech, cuts)
        n = min(probs.size, whole.size)
        assert abs(probs.size - whole.size) <= 1  # a stream may leave a last step to finish()
        np.testing.assert_allclose(probs[:n], whole[:n], atol=2e-5)
        np.testing.assert_array_equal(times, detector.step_times(np.arange(probs.size)))


def test_a_stream_told_the_rate_resamples_as_the_audio_comes(detector, speech):
    from twd_lab.audio import resample

    x16 = resample(speech[: 6 * SR], SR, 16_000)  # 16 kHz audio, fed at its own rate
    whole, _ = detector.hear(resample(x16, 16_000, SR))
    probs, _ = _feed(detector.stream(sample_rate=16_000), x16, np.arange(1, 30) * 2_000)
    n = min(probs.size, whole.size)
    assert n > 0.9 * whole.size
    np.testing.assert_allclose(probs[:n], whole[:n], atol=2e-5)
    with pytest.raises(ValueError, match="sample_rate"):
        detector.stream(sample_rate=1)


def test_finish_hears_silence_then_the_stream_is_closed(detector, speech):
    stream = detector.stream()
    stream.feed(speech[: 3 * SR])
    probs, times = stream.finish(0.5)
    assert probs.size > 0 and times[-1] > stream.time_s == pytest.approx(3.0)
    with pytest.raises(ValueError, match="finished"):
        stream.feed(speech[:10])


def test_what_a_stream_carries_does_not_grow_with_time(detector, speech):
    def carried(stream) -> int:
        return sum(v.nbytes for v in vars(stream).values() if isinstance(v, np.ndarray))

    stream = detector.stream()
    sizes = []
    for _ in range(6):
        for a in range(0, speech.size, SR // 4):
            stream.feed(speech[a : a + SR // 4])
        sizes.append(carried(stream))
    assert stream.time_s == pytest.approx(72.0)
    assert max(sizes[1:]) <= sizes[0] + 64 * 1024  # the same few buffers after 12 s and after 72 s


@pytest.mark.parametrize(
    "chunk, message",
    [
        (np.zeros((10, 2), np.float32), "1-D float"),
        (np.zeros(10, np.int16), "1-D float"),
        (np.full(10, 30000.0, np.float32), "int16 audio as floats"),
        (np.array([0.0, np.nan], np.float32), "finite"),
    ],
)
def test_bad_chunks_are_refused_naming_what_is_wrong(detector, chunk, message):
    with pytest.raises(ValueError, match=message):
        detector.stream().feed(chunk)


def test_level_matched_audio_that_peaks_above_full_scale_is_still_heard(detector):
    # a quiet recording with one loud click, level-matched to -20 dBFS as detect hears a file, peaks
    # above 1 (real read speech reached 2.03); it is audio, not int16 units, and must be heard
    x = np.zeros(SR, np.float32)
    x[SR // 2] = 3.0
    probs, times = detector.stream().feed(x)
    assert np.isfinite(probs).all() and len(probs) == len(times)


def test_a_file_cut_into_pieces_and_streamed_gives_what_the_whole_file_gives(detector, speech, tmp_path):
    from twd_lab.audio import write_wav

    loud = np.clip(speech * 1.5, -1, 1)  # files are level-matched: the pieces share the whole's gain
    whole = write_wav(tmp_path / "whole.wav", loud)
    pieces = [write_wav(tmp_path / f"piece_{i}.wav", p) for i, p in enumerate(np.array_split(loud, 4))]
    a = detect_file(whole, detector)
    b = detect_blocks(detector, pieces)
    c = detect_blocks(detector, whole, block_s=0.7)
    assert a["duration_s"] == b["duration_s"] == c["duration_s"] == pytest.approx(12.0, abs=1e-3)
    assert [t["time_s"] for t in a["triggers"]] == [t["time_s"] for t in b["triggers"]]
    assert [t["time_s"] for t in a["triggers"]] == [t["time_s"] for t in c["triggers"]]
    np.testing.assert_allclose(
        [t["score"] for t in a["triggers"]], [t["score"] for t in b["triggers"]], atol=1e-3
    )


def test_the_labs_functions_take_any_detector(detector, speech):
    from twd_lab.detection import chime_on_activate, detect_triggerword, preprocess_audio

    clip = speech[: 5 * SR]
    probs = detect_triggerword(clip, detector)
    np.testing.assert_array_equal(probs, detector.hear(preprocess_audio(clip))[0])
    if detector.kind == "lab":  # chime_on_activate places the lab network's steps
        result = chime_on_activate(clip, probs)
        assert result.audio.shape == clip.shape


def test_modules_that_moved_keep_their_old_import_paths():
    import importlib

    from twd_lab._moved import MOVED

    for old, new in MOVED.items():
        moved = importlib.import_module(new)
        assert importlib.import_module(old) is moved  # the module itself, not a copy
        assert moved.__spec__.name == new
    from twd_lab.file_detection import detect_file as old_detect_file
    from twd_lab.inference import ChunkedModel, step_times_s  # noqa: F401
    from twd_lab.streaming import StreamingDetector  # noqa: F401

    from twd_lab.embedding_detector import EmbeddingDetector as from_training

    assert old_detect_file is detect_file
    from twd_lab.detectors import EmbeddingDetector

    assert from_training is EmbeddingDetector


def test_evaluate_detector_scores_any_detector_on_seeded_clips(detector):
    from twd_lab.evaluation import evaluate_detector, iter_test_clips

    report = evaluate_detector(detector, "heldout", n=4, seed=5, tail_s=1.0)
    words = sum(len(ends) for _, ends in iter_test_clips("heldout", 4, 5))
    assert report["n_clips"] == 4 and report["n_words"] == words > 0
    assert report["refractory"] == detector.rule.refractory and report["step_s"] == detector.step_s
    if not getattr(detector, "untrained", False):
        assert report["recall"] >= 0.75 and report["false_accepts"] <= 1


def test_step_targets_are_what_the_detector_is_trained_to_say_after_each_word(detector):
    from twd_lab.constants import TY
    from twd_lab.evaluation import build_test_set

    test = build_test_set("heldout", 3, seed=2)
    for y, ends in zip(test.y[..., 0], test.word_ends_s):
        n = int(np.sum(detector.step_times(np.arange(2 * TY)) <= 10.0 + 1e-9))  # steps decided in 10 s
        labels, weights = detector.step_targets(ends, n)
        assert labels.shape == weights.shape == (n,) and set(np.unique(labels)) <= {0.0, 1.0}
        times = detector.step_times(np.flatnonzero(labels))
        # every positive step is decided soon after a word's end, inside the event window, and counts
        near = [np.any((t - np.asarray(ends) > 0) & (t - np.asarray(ends) <= 1.2)) for t in times]
        assert all(near) and np.all(weights[labels == 1] == 1)
        assert len(ends) == 0 or labels.sum() > 0
        if detector.kind == "lab":  # the lab's own labels (insert_ones), step for step
            np.testing.assert_array_equal(labels, y)
    silent, _ = detector.step_targets([], 50)
    assert not silent.any()
