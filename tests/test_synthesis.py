"""twd_lab.synthesis: the lab's functions with the lab's meanings, seeded, bounded, exactly 10 s."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import SR, noise, tone
from hypothesis import given, settings
from hypothesis import strategies as st

from twd_lab.audio import dbfs, to_segment
from twd_lab.constants import CLIP_SAMPLES, LABEL_RUN, TARGET_DBFS, TX, TY
from twd_lab.synthesis import (
    NO_ROOM,
    create_training_example,
    get_random_time_segment,
    insert_audio_clip,
    insert_ones,
    is_overlapping,
    synthesize_example,
)

# ------------------------------------------------------------------------------ get_random_time_segment


def test_random_time_segment_is_inside_the_clip_and_seeded():
    for seed in range(200):
        start, end = get_random_time_segment(2400, rng=seed)
        assert 0 <= start < 10_000 - 2400 and end == start + 2400 - 1
    assert get_random_time_segment(500, rng=7) == get_random_time_segment(500, rng=7)


@pytest.mark.parametrize("bad", [-1, 0, 10_000, 12_000])
def test_random_time_segment_rejects_negative_or_oversized(bad):
    with pytest.raises(ValueError, match="segment_ms"):
        get_random_time_segment(bad)


def test_random_time_segment_rejects_non_integers():
    with pytest.raises(TypeError, match="segment_ms"):
        get_random_time_segment(1.5)


# -------------------------------------------------------------------------------------- is_overlapping


def test_is_overlapping_lab_examples():
    assert is_overlapping((950, 1430), [(2000, 2550), (260, 949)]) is False
    assert is_overlapping((2305, 2950), [(824, 1532), (1900, 2305), (3424, 3656)]) is True


def test_touching_segments_overlap():
    assert is_overlapping((100, 200), [(200, 300)])
    assert is_overlapping((100, 200), [(0, 100)])
    assert not is_overlapping((100, 200), [(201, 300), (0, 99)])


segments = st.tuples(st.integers(0, 200), st.integers(0, 200)).map(sorted).map(tuple)


@given(segments, st.lists(segments, max_size=5))
def test_property_is_overlapping_means_shared_milliseconds(seg, previous):
    def ms(s):
        return set(range(s[0], s[1] + 1))

    assert is_overlapping(seg, previous) == any(ms(seg) & ms(p) for p in previous)


# ----------------------------------------------------------------------------------------- insert_ones


@settings(max_examples=200)
@given(st.integers(0, 10_000), st.integers(20, 2000))
def test_property_insert_ones_sets_the_fifty_steps_after_the_end(end_ms, ty):
    y = np.zeros((1, ty), dtype=np.float32)
    out = insert_ones(y, end_ms)
    e = int(end_ms * ty / 10000.0)
    expected = np.zeros(ty)
    expected[e + 1 : e + 1 + LABEL_RUN] = 1
    assert out is y  # in place, as in the lab
    np.testing.assert_array_equal(y[0], expected)
    assert y.sum() == max(0, min(LABEL_RUN, ty - 1 - e))


def test_insert_ones_lab_check():
    y = insert_ones(np.zeros((1, TY)), 9700)
    assert y[0, 1333] == 0 and y[0, 1334] == 1 and y[0, 634] == 0 and y.sum() == 41


@pytest.mark.parametrize("y", [np.zeros(TY), np.zeros((2, TY)), np.zeros((TY, 1)), [[0.0] * 10]])
def test_insert_ones_rejects_wrong_y_shape(y):
    with pytest.raises(ValueError, match=r"shape \(1, Ty\)"):
        insert_ones(y, 100)


def test_insert_ones_rejects_negative_time():
    with pytest.raises(ValueError, match="segment_end_ms"):
        insert_ones(np.zeros((1, TY)), -5)


# ------------------------------------------------------------------------------------ insert_audio_clip


def test_insert_audio_clip_on_arrays(clips):
    background, activates, _ = clips
    previous = [(0, 100)]
    before = background.copy()
    new, (start, end) = insert_audio_clip(background, activates[1], previous, rng=0)
    assert previous == [(0, 100), (start, end)]  # appended, as in the lab
    assert np.array_equal(background, before)  # the input is not changed
    assert end - start + 1 == 1200 and not is_overlapping((start, end), [(0, 100)])
    s = start * SR // 1000
    np.testing.assert_allclose(
        new[s : s + len(activates[1])] - background[s : s + len(activates[1])], activates[1], atol=1e-6
    )


def test_insert_audio_clip_on_segments_like_the_lab(clips):
    background, activates, _ = clips
    bg, clip = to_segment(background), to_segment(activates[0])
    new, segment = insert_audio_clip(bg, clip, [], rng=1)
    assert type(new).__name__ == "AudioSegment" and len(new) == len(bg)
    assert segment[1] - segment[0] + 1 == len(clip)


def test_insert_audio_clip_gives_up_when_there_is_no_room(clips):
    background, activates, _ = clips
    full = [(0, 9999)]
    t0 = time.perf_counter()
    new, segment = insert_audio_clip(background, activates[0], full, rng=0)
    assert time.perf_counter() - t0 < 1.0  # the lab's loop spun forever here
    assert segment == NO_ROOM == (10_000, 10_000)
    assert new is background and full == [(0, 9999)]


def test_insert_audio_clip_finds_the_last_free_slot(clips):
    # one free gap of 1,300 ms: random draws almost never hit it, the fallback always does
    background, activates, _ = clips
    previous = [(0, 4000), (5301, 9999)]
    for seed in range(20):
        prev = list(previous)
        _, (start, end) = insert_audio_clip(background, activates[1], prev, rng=seed, max_tries=3)
        assert 4001 <= start <= 4101 and end <= 5300


def test_insert_audio_clip_rejects_a_clip_longer_than_the_background(clips):
    background = clips[0]
    with pytest.raises(ValueError, match="shorter than the background"):
        insert_audio_clip(background, noise(10.5), [])
    with pytest.raises(ValueError, match="shorter than the background"):
        insert_audio_clip(background[: SR // 2], tone(0.6), [])


# ------------------------------------------------------------------------------------ whole examples


def test_synthesize_example_is_exactly_ten_seconds_at_minus_20_dbfs(clips):
    background, activates, negatives = clips
    for bg in (background, background[: CLIP_SAMPLES - 1], background[: 3 * SR], np.tile(background, 2)):
        ex = synthesize_example(bg, activates, negatives, rng=3)
        assert ex.audio.shape == (CLIP_SAMPLES,) and ex.audio.dtype == np.float32
        assert math.isclose(dbfs(ex.audio), TARGET_DBFS, abs_tol=0.01)
        assert ex.y.shape == (1, TY) and ex.y.dtype == np.float32


def test_synthesize_example_labels_follow_each_activate(clips):
    background, activates, negatives = clips
    ex = synthesize_example(background, activates, negatives, rng=0, n_activates=3, n_negatives=2)
    assert len(ex.activate_segments) == 3 and len(ex.negative_segments) == 2
    expected = np.zeros((1, TY), np.float32)
    for _, end in ex.activate_segments:
        insert_ones(expected, end)
    np.testing.assert_array_equal(ex.y, expected)
    every = ex.activate_segments + ex.negative_segments
    for i, seg in enumerate(every):
        assert not is_overlapping(seg, every[:i] + every[i + 1 :])


def test_synthesize_example_with_no_room_terminates(clips):
    # 2.4 s activates: 5 of them cannot fit in 10 s; the lab's loop spun forever
    background = clips[0]
    long_word = tone(2.4)
    ex = synthesize_example(background, [long_word], [long_word], rng=0, n_activates=4, n_negatives=2)
    assert len(ex.activate_segments) + len(ex.negative_segments) <= 4
    assert np.isfinite(ex.audio).all()


def test_silent_background_and_clips_give_no_nan():
    silent = np.zeros(CLIP_SAMPLES, np.float32)
    ex = synthesize_example(silent, [np.zeros(SR // 2, np.float32)], [np.zeros(SR // 4, np.float32)], rng=0)
    assert np.isfinite(ex.audio).all() and not ex.audio.any()
    x, _y = create_training_example(
        silent, [np.zeros(SR // 2, np.float32)], [np.zeros(SR // 4, np.float32)], rng=0
    )
    assert np.isfinite(x).all()


def test_augment_is_applied_to_each_inserted_clip(clips):
    background, activates, negatives = clips
    seen = []

    def augment(clip, rng):
        seen.append(len(clip))
        return clip * 0.5

    ex = synthesize_example(
        background, activates, negatives, rng=0, n_activates=2, n_negatives=1, augment=augment
    )
    assert len(seen) == 3 and len(ex.activate_segments) == 2


def test_empty_word_lists_are_an_error(clips):
    background, activates, _ = clips
    with pytest.raises(ValueError, match="negatives"):
        synthesize_example(background, activates, [], rng=0)


def test_create_training_example_shapes_and_same_seed_same_bits(clips):
    background, activates, negatives = clips
    x1, y1 = create_training_example(background, activates, negatives, rng=42)
    x2, y2 = create_training_example(background, activates, negatives, rng=42)
    assert x1.shape == (101, TX) and y1.shape == (1, TY) and x1.dtype == np.float32
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    x3, _ = create_training_example(background, activates, negatives, rng=43)
    assert not np.array_equal(x1, x3)


def test_create_training_example_accepts_lab_segments_and_writes_nothing(clips, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    background, activates, negatives = clips
    x, y = create_training_example(
        to_segment(background),
        [to_segment(a) for a in activates],
        [to_segment(n) for n in negatives],
        1375,
        rng=0,
    )
    assert x.shape == (101, TX) and y.shape == (1, 1375)
    assert list(tmp_path.iterdir()) == []  # no train.wav behind the user's back
    out = tmp_path / "example.wav"
    create_training_example(background, activates, negatives, rng=0, out_wav=out)
    assert out.exists()
    with pytest.raises(FileExistsError):
        create_training_example(background, activates, negatives, rng=0, out_wav=out)


def test_create_training_example_keeps_the_lab_scale(clips):
    # the lab fed int16 values to plt.specgram; our float audio is scaled by 32768 first
    from matplotlib import mlab

    background, activates, negatives = clips
    ex = synthesize_example(background, activates, negatives, rng=5)
    x, _ = create_training_example(background, activates, negatives, rng=5)
    ref = mlab.specgram(ex.audio.astype(np.float64) * 32768, NFFT=200, Fs=8000, noverlap=120)[0]
    mask = ref > ref.max(axis=0) * 1e-6
    assert np.abs(10 * np.log10(x[mask] / ref[mask])).max() < 0.01


def test_training_x_is_the_scaled_spectrogram_and_can_fill_a_buffer(clips):
    from twd_lab.spectrogram import spectrogram
    from twd_lab.synthesis import training_x

    background, activates, negatives = clips
    audio = synthesize_example(background, activates, negatives, rng=2).audio
    x = training_x(audio)
    np.testing.assert_allclose(x, spectrogram(audio * np.float32(32768)), rtol=1e-4, atol=1e-3)
    out = np.empty((TX, 101), np.float32)
    assert np.shares_memory(training_x(audio, out=out), out)
    np.testing.assert_array_equal(out.T, x)
    with pytest.raises(ValueError, match="10 s"):
        training_x(audio[:-1])  # 440,999 samples would give 5,510 frames


# ------------------------------------------------------------------------------------ partial words


def test_partial_words_are_faded_starts_of_the_words_and_repeat_with_the_seed():
    from twd_lab.synthesis import partial_words

    words = [np.linspace(0.1, 0.9, 44_100, dtype=np.float32), np.full(20_000, 0.5, np.float32)]
    cuts = partial_words(words, 40, keep=(0.4, 0.6), rng=3)
    assert len(cuts) == 40
    for cut in cuts:
        source = words[0] if cut.size > 0.6 * 20_000 + 1 else words[1]
        assert 0.4 * source.size - 1 <= cut.size <= 0.6 * source.size + 1
        n = cut.size - 441
        np.testing.assert_array_equal(cut[:n], source[:n])  # the start, unchanged
        assert cut[-1] == 0.0 and np.all(np.diff(np.abs(cut[n:] / source[n : cut.size])) <= 1e-6)
    assert {c.size > 20_000 for c in cuts} == {True, False}  # both words are drawn
    again = partial_words(words, 40, keep=(0.4, 0.6), rng=3)
    assert all(np.array_equal(a, b) for a, b in zip(cuts, again))
    assert words[1][-1] == 0.5  # the words themselves are untouched
    for bad in ((0.0, 0.5), (0.6, 0.4), (0.5, 1.0)):
        with pytest.raises(ValueError, match="keep"):
            partial_words(words, 1, keep=bad)
    with pytest.raises(ValueError, match="words"):
        partial_words([], 1)
