"""The exercise graders: a right implementation passes, each usual mistake fails with a helpful message."""

from __future__ import annotations

import numpy as np
import pytest

from twd_lab import checks
from twd_lab.constants import CLIP_MS, TY
from twd_lab.synthesis import (
    create_training_example,
    get_random_time_segment,
    insert_audio_clip,
    insert_ones,
    is_overlapping,
)


def failures(result) -> str:
    return "\n".join(result.failures)


# --- is_overlapping ------------------------------------------------------------------------------


def test_is_overlapping_check_passes_the_library_function(capsys):
    result = checks.check_is_overlapping(is_overlapping)
    assert result and result.passed and result.n_cases == 8
    assert "check_is_overlapping: all 8 cases passed." in capsys.readouterr().out


def test_is_overlapping_check_catches_strict_comparison_on_touching_segments():
    def strict(segment_time, previous_segments):
        s, e = segment_time
        return any(s < pe and e > ps for ps, pe in previous_segments)

    result = checks.check_is_overlapping(strict, verbose=False)
    assert not result
    assert "touching" in failures(result) and "expected True, got False" in failures(result)


def test_is_overlapping_check_catches_returning_after_the_first_segment():
    def early_return(segment_time, previous_segments):
        s, e = segment_time
        for ps, pe in previous_segments:
            return s <= pe and e >= ps
        return False

    result = checks.check_is_overlapping(early_return, verbose=False)
    assert not result and "only the LAST" in failures(result)


def test_a_check_reports_an_exception_as_a_failed_case_and_prints_it(capsys):
    def broken(segment_time, previous_segments):
        raise NameError("name 'overlap' is not defined")

    result = checks.check_is_overlapping(broken)
    out = capsys.readouterr().out
    assert not result and "8 of 8 cases failed" in out and "raised NameError" in out


# --- get_random_time_segment ----------------------------------------------------------------------


def test_random_segment_check_passes_the_library_function():
    assert checks.check_get_random_time_segment(get_random_time_segment, verbose=False)


def test_random_segment_check_catches_an_off_by_one_end():
    def off_by_one(segment_ms, rng=None):
        start = int(np.random.default_rng(rng).integers(0, CLIP_MS - segment_ms))
        return start, start + segment_ms

    result = checks.check_get_random_time_segment(off_by_one, verbose=False)
    assert not result and "segment_start + segment_ms - 1" in failures(result)


def test_random_segment_check_catches_global_random_state():
    def global_state(segment_ms, rng=None):
        start = int(np.random.randint(0, CLIP_MS - segment_ms))
        return start, start + segment_ms - 1

    result = checks.check_get_random_time_segment(global_state, verbose=False)
    assert not result and "same seed" in failures(result)


def test_random_segment_check_asks_for_an_rng_argument():
    def no_rng(segment_ms):
        return 0, segment_ms - 1

    result = checks.check_get_random_time_segment(no_rng, verbose=False)
    assert not result and "rng" in failures(result)


# --- insert_ones ----------------------------------------------------------------------------------


def test_insert_ones_check_passes_the_library_function():
    assert checks.check_insert_ones(insert_ones, verbose=False)


def test_insert_ones_check_catches_a_run_starting_one_step_early():
    def early(y, segment_end_ms):
        e = int(segment_end_ms * TY / 10000.0)
        y[0, e : e + 50] = 1
        return y

    result = checks.check_insert_ones(early, verbose=False)
    assert not result
    assert "first wrong step" in failures(result) and "ones expected at steps 1..50" in failures(result)


def test_insert_ones_check_catches_an_index_error_at_the_end():
    def unclipped(y, segment_end_ms):
        e = int(segment_end_ms * TY / 10000.0)
        for i in range(e + 1, e + 51):
            y[0, i] = 1
        return y

    result = checks.check_insert_ones(unclipped, verbose=False)
    assert not result and "IndexError" in failures(result)


def test_insert_ones_check_reports_each_run_of_ones_of_two_words():
    def first_word_lost(y, segment_end_ms):
        return insert_ones(np.zeros_like(y), segment_end_ms)  # starts again from zeros

    text = failures(checks.check_insert_ones(first_word_lost, verbose=False))
    assert "ones expected at steps 138..187 and 963..1012, got ones at 963..1012 (50 steps)" in text


def test_insert_ones_check_catches_returning_nothing():
    def no_return(y, segment_end_ms):
        insert_ones(y, segment_end_ms)

    result = checks.check_insert_ones(no_return, verbose=False)
    assert not result and "returned None" in failures(result)


# --- insert_audio_clip ----------------------------------------------------------------------------


def test_insert_audio_clip_check_passes_the_library_function():
    assert checks.check_insert_audio_clip(insert_audio_clip, verbose=False)


def test_insert_audio_clip_check_catches_ignoring_previous_segments():
    def careless(background, audio_clip, previous_segments, rng=None):
        return insert_audio_clip(background, audio_clip, [], rng=rng)

    result = checks.check_insert_audio_clip(careless, verbose=False)
    assert not result
    assert "previous_segments should become" in failures(result) or "overlaps" in failures(result)


# --- create_training_example ----------------------------------------------------------------------


def test_create_training_example_check_passes_the_library_function(clips):
    background, activates, negatives = clips
    assert checks.check_create_training_example(
        create_training_example, background, activates, negatives, verbose=False
    )


def test_create_training_example_check_catches_ones_for_negatives(clips):
    background, activates, negatives = clips

    def labels_everything(background, activates, negatives, rng=None):
        x, y = create_training_example(background, activates + negatives, negatives, rng=rng)
        return x, y

    def wrong_y_shape(background, activates, negatives, rng=None):
        x, y = create_training_example(background, activates, negatives, rng=rng)
        return x, y.reshape(-1)

    result = checks.check_create_training_example(
        wrong_y_shape, background, activates, negatives, verbose=False
    )
    assert not result and "y: expected shape (1, 1375)" in failures(result)
    # labelling negatives too is still a valid-looking y; only the "no activates" case exposes it
    result = checks.check_create_training_example(
        labels_everything, background, activates, negatives, verbose=False
    )
    assert not result and "no activates given" in failures(result)


# --- model ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_model_passes_every_style_and_both_output_layers():
    from twd_lab.models import build_model

    for style in ("sequential", "functional", "subclassed"):
        assert checks.check_model(build_model(style), verbose=False), style
    assert checks.check_model(build_model("functional", output_layer="time_distributed"), verbose=False)


@pytest.mark.slow
def test_check_model_names_the_wrong_layer_and_the_parameter_count():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((5511, 101)),
            layers.Conv1D(196, 15, strides=4),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.2),  # keep_prob thinking: should be rate 0.8
            layers.GRU(128, return_sequences=True),
            layers.Dropout(0.8),
            layers.BatchNormalization(),
            layers.GRU(128, return_sequences=True),
            layers.Dropout(0.8),
            layers.BatchNormalization(),
            layers.Dropout(0.8),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    result = checks.check_model(model, verbose=False)
    assert not result
    text = failures(result)
    assert "layer 4: Dropout" in text and "expected Dropout(rate=0.8), got Dropout(rate=0.2)" in text
    assert "parameters" not in text  # same count: dropout has no weights

    small = keras.Sequential(
        [
            keras.Input((5511, 101)),
            layers.Conv1D(196, 15, strides=4),
            layers.GRU(64),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    text = failures(checks.check_model(small, verbose=False))
    assert "expected 12 layers" in text and "expected 523,329 parameters" in text


@pytest.mark.slow
def test_check_model_reports_a_missing_layer_once_not_as_a_cascade():
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((5511, 101)),
            layers.Conv1D(196, 15, strides=4),
            layers.Activation("relu"),
            layers.Dropout(0.8),  # no BatchNorm
            layers.GRU(128, return_sequences=True),
            layers.Dropout(0.8),
            layers.BatchNormalization(),
            layers.GRU(128, return_sequences=True),
            layers.Dropout(0.8),
            layers.BatchNormalization(),
            layers.Dropout(0.8),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    result = checks.check_model(model, verbose=False)
    text = failures(result)
    assert len(result.failures) == 3, text  # the count, the missing layer, and the parameters it carried
    assert (
        "layer 2: BatchNormalization): missing: expected BatchNormalization() here, after the Conv1D" in text
    )
    assert "this follows from the layer difference at layer 2" in text
    assert "layer 5" not in text  # the layers after it are compared where they belong, and pass


@pytest.mark.slow
def test_check_model_translates_a_gru_without_return_sequences():
    import keras
    from keras import layers

    def modelf(input_shape):
        x_in = keras.Input(shape=input_shape)
        x = layers.Conv1D(196, 15, strides=4)(x_in)
        x = layers.GRU(128)(x)  # returns only its last step
        x = layers.BatchNormalization()(x)
        x = layers.GRU(128, return_sequences=True)(x)
        return keras.Model(x_in, layers.Dense(1, activation="sigmoid")(x))

    text = failures(checks.check_model(modelf, verbose=False))
    assert "expected ndim=3, found ndim=2" in text  # Keras's words, then ours
    assert "needs a sequence, (batch, steps, features), but received one vector per clip, (None, 128)" in text
    assert "return_sequences=True" in text


# --- the firing rule ------------------------------------------------------------------------------


def test_fire_steps_check_passes_the_library_rule():
    from twd_lab.metrics import find_triggers

    assert checks.check_fire_steps(find_triggers, verbose=False)


def test_fire_steps_check_catches_greater_or_equal_and_a_refractory_that_never_ends():
    def at_or_above(probs, threshold, patience, refractory):
        fired, run = [], 0
        for i, p in enumerate(probs):
            run = run + 1 if p >= threshold else 0
            if run >= patience and (not fired or i - fired[-1] >= refractory):
                fired.append(i)
        return fired

    text = failures(checks.check_fire_steps(at_or_above, verbose=False))
    assert "strictly above" in text and "expected firings at [], got [20]" in text

    def once_per_run(probs, threshold, patience, refractory):
        fired, run = [], 0
        for i, p in enumerate(probs):
            run = run + 1 if p > threshold else 0
            if run == patience and (not fired or i - fired[-1] >= refractory):
                fired.append(i)
        return fired

    text = failures(checks.check_fire_steps(once_per_run, verbose=False))
    assert "fires again after the refractory time" in text and "expected firings at [50, 125, 200]" in text


# --- counting detections --------------------------------------------------------------------------


def count_detections_greedy(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
    """The lesson's solution: firings in time order, each detecting the earliest word still waiting."""
    lo, hi = window_s
    ends, w, hits = sorted(word_ends_s), 0, 0
    for t in sorted(fires_s):
        while w < len(ends) and t > ends[w] + hi:
            w += 1
        if w < len(ends) and t >= ends[w] + lo:
            hits, w = hits + 1, w + 1
    return hits, len(fires_s) - hits


def test_count_detections_check_passes_the_greedy_rule_and_the_library(capsys):
    from twd_lab.metrics import event_scores

    result = checks.check_count_detections(count_detections_greedy)
    assert result and result.n_cases == 11
    assert "check_count_detections: all 11 cases passed." in capsys.readouterr().out

    def via_library(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        s = event_scores(word_ends_s, fires_s, duration_s=100.0, window=window_s)
        return s.hits, s.false_accepts

    assert checks.check_count_detections(via_library, verbose=False)


def test_count_detections_check_catches_counting_every_word_with_a_firing_in_its_window():
    def any_firing(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        lo, hi = window_s
        hits = sum(any(e + lo <= t <= e + hi for t in fires_s) for e in word_ends_s)
        return hits, sum(not any(e + lo <= t <= e + hi for e in word_ends_s) for t in fires_s)

    text = failures(checks.check_count_detections(any_firing, verbose=False))
    assert "two firings for one word" in text
    assert "expected (hits, false_accepts) = (1, 1), got (1, 0)" in text
    assert "not both" in text and "expected (hits, false_accepts) = (1, 0), got (2, 0)" in text


def test_count_detections_check_catches_open_window_edges_and_matching_the_nearest_word():
    def open_edges(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        lo, hi = window_s
        ends, w, hits = sorted(word_ends_s), 0, 0
        for t in sorted(fires_s):
            while w < len(ends) and t >= ends[w] + hi:
                w += 1
            if w < len(ends) and t > ends[w] + lo:
                hits, w = hits + 1, w + 1
        return hits, len(fires_s) - hits

    result = checks.check_count_detections(open_edges, verbose=False)
    assert len(result.failures) == 2
    assert "start is included" in failures(result) and "end is included" in failures(result)

    def nearest_word(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        lo, hi = window_s
        waiting, hits = sorted(word_ends_s), 0
        for t in sorted(fires_s):
            inside = [e for e in waiting if e + lo <= t <= e + hi]
            if inside:
                waiting.remove(min(inside, key=lambda e: abs(t - e)))
                hits += 1
        return hits, len(fires_s) - hits

    result = checks.check_count_detections(nearest_word, verbose=False)
    assert len(result.failures) == 1 and "detects the earlier one" in failures(result)
    assert "expected (hits, false_accepts) = (2, 0), got (1, 1)" in failures(result)


def test_count_detections_check_catches_unsorted_input_a_fixed_window_and_sorting_in_place():
    def no_sort(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        lo, hi = window_s
        w, hits = 0, 0
        for t in fires_s:
            while w < len(word_ends_s) and t > word_ends_s[w] + hi:
                w += 1
            if w < len(word_ends_s) and t >= word_ends_s[w] + lo:
                hits, w = hits + 1, w + 1
        return hits, len(fires_s) - hits

    def fixed_window(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        return count_detections_greedy(word_ends_s, fires_s)

    def sorts_in_place(word_ends_s, fires_s, window_s=(-0.2, 1.2)):
        word_ends_s.sort()
        fires_s.sort()
        return count_detections_greedy(word_ends_s, fires_s, window_s)

    result = checks.check_count_detections(no_sort, verbose=False)
    assert len(result.failures) == 1 and "unsorted" in failures(result)
    assert "expected (hits, false_accepts) = (2, 1), got (0, 3)" in failures(result)
    assert "another window_s" in failures(checks.check_count_detections(fixed_window, verbose=False))
    text = failures(checks.check_count_detections(sorts_in_place, verbose=False))
    assert "unsorted" in text and "must not change its arguments" in text
