"""Metrics on hand-built cases: frame accuracy, firing rules, event matching, FA/hour, DET curve."""

from __future__ import annotations

import numpy as np
import pytest

from twd_lab.metrics import (
    EventScores,
    TriggerPicker,
    det_curve,
    event_scores,
    find_triggers,
    frame_accuracy,
    plot_det,
    steps_to_seconds,
)


def test_frame_accuracy_comes_with_the_all_zeros_baseline():
    y = np.zeros(100)
    y[10:17] = 1
    acc = frame_accuracy(y, np.zeros(100))
    assert acc.accuracy == acc.all_zeros_baseline == pytest.approx(0.93)
    assert frame_accuracy(y, y * 0.9).accuracy == 1.0


def test_frame_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        frame_accuracy(np.zeros(5), np.zeros(6))


def test_patience_waits_for_consecutive_steps_above_threshold():
    probs = [0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9]
    assert find_triggers(probs, patience=1, refractory=1).tolist() == [0, 2, 3, 5, 6, 7, 8]
    assert find_triggers(probs, patience=3, refractory=1).tolist() == [7, 8]
    assert find_triggers(probs, patience=3, refractory=100).tolist() == [7]


def test_refractory_suppresses_double_firing_then_allows_it():
    probs = np.zeros(300)
    probs[10:60] = 0.9  # one word: a run of 50 steps
    probs[70:80] = 0.9  # a second bump, 60 steps after the first firing
    probs[200:205] = 0.9
    assert find_triggers(probs, refractory=75).tolist() == [10, 200]
    assert find_triggers(probs, refractory=50).tolist() == [10, 70, 200]
    # a run longer than the refractory period fires again, like the lab's chime loop
    assert find_triggers(np.full(200, 0.9), refractory=75).tolist() == [0, 75, 150]


def test_threshold_is_strict():
    assert find_triggers([0.5, 0.5], threshold=0.5).size == 0


def test_chunked_trigger_picking_equals_one_pass():
    rng = np.random.default_rng(0)
    probs = (rng.random(2000) > 0.6).astype(float) * 0.9
    whole = find_triggers(probs, patience=3, refractory=20)
    picker = TriggerPicker(patience=3, refractory=20)
    parts = [picker.update(probs[a:b]) for a, b in [(0, 1), (1, 2), (2, 500), (500, 500), (500, 2000)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.size > 10


def test_hits_inside_the_window_count_and_outside_do_not():
    # word ends at 5.0 s; the window is -0.2 ... +1.2 s
    for t, hit in [(4.79, 0), (4.8, 1), (5.0, 1), (6.2, 1), (6.21, 0)]:
        s = event_scores([5.0], [t], duration_s=10.0)
        assert (s.hits, s.false_accepts, s.n_triggers) == (hit, 1 - hit, 1), t


def test_each_word_is_matched_once_and_double_detections_are_false_accepts():
    s = event_scores([2.0, 2.5], [2.1, 2.2, 2.4], duration_s=10.0)
    assert (s.hits, s.false_accepts) == (2, 1)
    assert s.recall == 1.0 and s.precision == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(0.8)


def test_false_accepts_per_hour_count_audio_without_the_word():
    # 10 s with one word: its window covers 1.4 s, leaving 8.6 s of audio without the word
    s = event_scores([5.0], [1.0, 5.1], duration_s=10.0)
    assert s.negative_s == pytest.approx(8.6)
    assert s.false_accepts_per_hour == pytest.approx(3600 / 8.6)
    # windows are clipped to the recording and overlapping windows count once
    assert event_scores([0.0, 0.5], [], duration_s=10.0).negative_s == pytest.approx(10 - 1.7)
    # negative-only audio: one false accept in 360 s is 10 per hour; recall of no words is 1
    s = event_scores([], [100.0], duration_s=360.0)
    assert (s.false_accepts_per_hour, s.recall, s.miss_rate, s.precision) == (10.0, 1.0, 0.0, 0.0)


def test_scores_pool_across_recordings():
    a = event_scores([5.0], [5.1], duration_s=10.0)
    b = event_scores([3.0], [], duration_s=10.0)
    total = a + b
    assert isinstance(total, EventScores)
    assert (total.hits, total.n_words, total.recall, total.precision) == (1, 2, 0.5, 1.0)
    assert total.as_dict()["duration_s"] == 20.0


def test_det_curve_trades_misses_for_false_accepts(tmp_path):
    step = 0.01
    probs = np.zeros(1000)
    probs[500:550] = 0.8  # the word, ending at 5.0 s, detected at 5.0 s
    probs[100:110] = 0.4  # a weaker false alarm at 1.0 s
    curve = det_curve([[5.0]], [probs], step_s=step, thresholds=[0.3, 0.6, 0.9])
    np.testing.assert_allclose(curve.miss_rate, [0.0, 0.0, 1.0])
    assert curve.false_accepts_per_hour[0] == pytest.approx(3600 / 8.6)
    assert curve.false_accepts_per_hour[1] == 0.0
    ax = plot_det(curve, label="toy")
    ax.figure.savefig(tmp_path / "det.png")


def test_steps_to_seconds_uses_the_lab_step():
    assert steps_to_seconds([1375])[0] == pytest.approx(10.0)


def test_threshold_for_false_accepts_picks_the_lowest_that_meets_the_target():
    from twd_lab.metrics import threshold_for_false_accepts

    # two "hours" of no-word audio: one spike to 0.7, one to 0.9 (each a single step)
    clips = [np.array([0.1, 0.7, 0.1]), np.array([0.2, 0.9, 0.2, 0.1])]
    assert threshold_for_false_accepts(clips, 2.0, 1.0, patience=1, refractory=1) == (0.5, 1.0)
    assert threshold_for_false_accepts(clips, 2.0, 0.5, patience=1, refractory=1) == (0.7, 0.5)
    th, rate = threshold_for_false_accepts(clips, 2.0, 0.0, patience=1, refractory=1)
    assert th == pytest.approx(0.9) and rate == 0.0  # find_triggers fires above, not at, the threshold
    # patience 2 ignores one-step spikes: the lowest candidate already meets the target
    assert threshold_for_false_accepts(clips, 2.0, 0.0, patience=2, refractory=1) == (0.5, 0.0)
    # unreachable target: the threshold with the fewest
    loud = [np.full(10, 0.9999)]
    assert threshold_for_false_accepts(loud, 1.0, 0.0, patience=1, refractory=100, candidates=[0.5, 0.9]) == (
        0.5,
        1.0,
    )
    with pytest.raises(ValueError, match="hours"):
        threshold_for_false_accepts(clips, 0.0, 1.0)
