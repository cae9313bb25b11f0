"""Seeded test sets with known word ends, and an evaluation that a perfect detector aces."""

from __future__ import annotations

import numpy as np
import pytest

from twd_lab.constants import STEP_S, TY
from twd_lab.evaluation import build_test_set, evaluate_model, format_table, real_speech_dir


def _raw():
    rng = np.random.default_rng(0)
    t = np.arange(30_000) / 44_100
    acts = [(0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32")]
    negs = [(0.1 * rng.standard_normal(15_000)).astype("float32")]
    bgs = [(0.01 * rng.standard_normal(441_000)).astype("float32")]
    return acts, negs, bgs


class _Oracle:
    """A 'model' that outputs the labels it is given back (a perfect detector)."""

    name = "oracle"

    def __init__(self, test):
        self.lookup = {x.tobytes(): y for x, y in zip(test.x, test.y)}

    def __call__(self, x, training=False):
        return np.stack([self.lookup[xi.tobytes()] for xi in np.asarray(x)])


def test_test_sets_are_seeded_and_word_ends_match_the_labels():
    a = build_test_set(_raw(), 4, seed=7)
    b = build_test_set(_raw(), 4, seed=7)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.word_ends_s == b.word_ends_s
    for y, ends in zip(a.y[..., 0], a.word_ends_s):
        onsets = np.flatnonzero(np.diff(np.concatenate([[0], y])) > 0)
        assert len(onsets) == len(ends)
        for onset, end in zip(onsets, ends):
            assert abs(onset * STEP_S - end) < 2 * STEP_S
    assert a.y.shape == (4, TY, 1) and a.duration_s == 40.0


def test_a_perfect_detector_scores_perfectly():
    test = build_test_set(_raw(), 6, seed=1)
    report = evaluate_model(_Oracle(test), test)
    assert report["recall"] == 1.0 and report["precision"] == 1.0
    assert report["false_accepts_per_hour"] == 0.0 and report["frame_accuracy"] == 1.0
    assert report["all_zeros_accuracy"] < 1.0
    table = format_table([report])
    assert "recall" in table and "arrays" in table
    # the lesson's table: no detector column for evaluate_model's reports
    assert table.startswith("| test set |")


def test_real_speech_is_skipped_cleanly_when_absent(monkeypatch, tmp_path):
    monkeypatch.setenv("TWD_LAB_REAL_SPEECH", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    found = real_speech_dir()
    assert found is None or (found / "activates").is_dir()


def test_bad_raw_is_named():
    with pytest.raises(TypeError, match="raw"):
        build_test_set(42, 2)


def test_a_louder_room_keeps_the_same_words_in_the_same_places():
    from twd_lab.evaluation import iter_test_clips

    lab = list(iter_test_clips("heldout", 3, 5))
    same = list(iter_test_clips("heldout", 3, 5, background_gain_db=-20.0))
    loud = list(iter_test_clips("heldout", 3, 5, background_gain_db=0.0))
    for (a, ends_a), (b, ends_b), (c, ends_c) in zip(lab, same, loud):
        np.testing.assert_array_equal(a, b)
        assert ends_a == ends_b == ends_c  # the same draws
        # the room is 20 dB louder under the same words: the clips differ, and the quietest 10% of
        # 20 ms frames (room only) is louder after the mix is normalised to -20 dBFS
        quiet = [
            np.percentile(np.sqrt((x[: x.size // 882 * 882].reshape(-1, 882) ** 2).mean(1)), 10)
            for x in (a, c)
        ]
        assert quiet[1] > 2 * quiet[0]
