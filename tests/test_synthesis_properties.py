"""Property-based tests (Hypothesis) of the synthesis helpers: segments inside the background, labels only
0 and 1, no write out of range, always terminates (issue 15, item 6 and its property suite)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twd_lab.constants import CLIP_MS, CLIP_SAMPLES, LABEL_RUN, SAMPLE_RATE, TY
from twd_lab.synthesis import (
    NO_ROOM,
    get_random_time_segment,
    insert_audio_clip,
    insert_ones,
    is_overlapping,
    synthesize_example,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _noise(n: int, seed: int, amp: float = 0.1) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_a_short_background_gets_segments_inside_it():
    background, clip = np.zeros(2 * SAMPLE_RATE, np.float32), np.full(SAMPLE_RATE, 0.1, np.float32)
    for seed in range(1000):
        previous = []
        new, (start, end) = insert_audio_clip(background, clip, previous, rng=seed)
        assert 0 <= start <= end < 2000, seed
        first = start * SAMPLE_RATE // 1000
        assert np.all(new[first : first + SAMPLE_RATE] == np.float32(0.1))  # the whole clip is in
        assert previous == [(start, end)]


def test_the_hypothesis_counterexample_is_placed_inside():
    background, clip = np.zeros(20_000, np.float32), np.ones(44, np.float32)
    new, (start, end) = insert_audio_clip(background, clip, [], rng=0)
    assert 0 <= start <= end < 20_000 * 1000 // SAMPLE_RATE
    assert np.count_nonzero(new) == 44


def test_a_clip_as_long_as_a_short_background_says_why():
    with pytest.raises(ValueError, match="shorter than the background"):
        insert_audio_clip(np.zeros(SAMPLE_RATE, np.float32), np.ones(SAMPLE_RATE, np.float32), [], rng=0)


@st.composite
def placements(draw):
    bg_samples = draw(st.integers(200, CLIP_SAMPLES + 5 * SAMPLE_RATE))
    clip_samples = draw(st.integers(1, 3 * SAMPLE_RATE))
    span = min(bg_samples * 1000 // SAMPLE_RATE, CLIP_MS)
    starts = draw(st.lists(st.integers(0, max(0, span - 1)), max_size=6))
    previous = [(s, min(s + draw(st.integers(0, 3000)), CLIP_MS - 1)) for s in starts]
    return bg_samples, clip_samples, previous, draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 12))


@SETTINGS
@given(placements())
def test_insert_audio_clip_stays_inside_and_writes_only_the_clip(case):
    bg_samples, clip_samples, previous, seed, max_tries = case
    background, clip = _noise(bg_samples, seed), _noise(clip_samples, seed + 1, 0.5)
    before = list(previous)
    span = min(bg_samples * 1000 // SAMPLE_RATE, CLIP_MS)
    clip_ms = round(clip_samples * 1000 / SAMPLE_RATE)
    if clip_ms == 0 or clip_ms >= span:
        with pytest.raises(ValueError, match="audio_clip"):
            insert_audio_clip(background, clip, previous, rng=seed, max_tries=max_tries)
        assert previous == before
        return
    new, segment = insert_audio_clip(background, clip, previous, rng=seed, max_tries=max_tries)
    assert new.shape == background.shape and new.dtype == np.float32
    if segment == NO_ROOM:
        assert previous == before and np.array_equal(new, background)
        return
    start, end = segment
    assert 0 <= start <= end < span and end - start + 1 == clip_ms  # inside the background
    assert not is_overlapping(segment, before) and previous == [*before, segment]
    first = start * SAMPLE_RATE // 1000
    last = min(first + clip_samples, bg_samples)
    outside = np.ones(bg_samples, bool)
    outside[first:last] = False
    assert np.array_equal(new[outside], background[outside])  # nothing written out of range
    np.testing.assert_allclose(new[first:last], background[first:last] + clip[: last - first], atol=1e-6)


@SETTINGS
@given(st.integers(1, CLIP_MS - 1), st.integers(0, 2**32 - 1))
def test_random_time_segments_lie_inside_10_s(segment_ms, seed):
    start, end = get_random_time_segment(segment_ms, rng=seed)
    assert 0 <= start <= end < CLIP_MS and end - start + 1 == segment_ms


@SETTINGS
@given(
    st.integers(1, 3000),
    st.lists(st.one_of(st.integers(0, 20_000), st.floats(0, 20_000, allow_nan=False)), max_size=8),
)
def test_insert_ones_writes_only_ones_only_after_each_end(ty, ends):
    y = np.zeros((1, ty), np.float32)
    expected = np.zeros(ty, bool)
    for e in ends:
        insert_ones(y, e)
        k = int(e * ty / 10000.0)
        expected[k + 1 : k + 1 + LABEL_RUN] = True
    assert y.shape == (1, ty)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert np.array_equal(y[0] == 1, expected)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 12),
    st.integers(0, 6),
    st.lists(st.integers(30, 2 * SAMPLE_RATE), min_size=1, max_size=4),
    st.integers(SAMPLE_RATE // 2, CLIP_SAMPLES + SAMPLE_RATE),
)
def test_synthesized_examples_terminate_with_segments_inside_and_binary_labels(
    seed, n_activates, n_negatives, word_samples, bg_samples
):
    words = [_noise(n, seed + k, 0.3) for k, n in enumerate(word_samples)]
    ex = synthesize_example(
        _noise(bg_samples, seed),
        words,
        words[::-1],
        rng=seed,
        n_activates=n_activates,
        n_negatives=n_negatives,
    )
    assert ex.audio.shape == (CLIP_SAMPLES,) and np.all(np.abs(ex.audio) <= 1.0)
    assert ex.y.shape == (1, TY) and set(np.unique(ex.y)) <= {0.0, 1.0}
    segments = ex.activate_segments + ex.negative_segments
    assert len(ex.activate_segments) <= n_activates and len(ex.negative_segments) <= n_negatives
    for i, (start, end) in enumerate(segments):
        assert 0 <= start <= end < CLIP_MS
        assert not is_overlapping((start, end), segments[:i] + segments[i + 1 :])
    expected = np.zeros((1, TY), np.float32)
    for _, end in ex.activate_segments:
        insert_ones(expected, end)
    assert np.array_equal(ex.y, expected)  # a label run after every placed activate, nowhere else
