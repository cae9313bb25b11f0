"""One rule at every array door: NaN and infinity are refused, naming the argument; ambiguous shapes are
refused; wrong types and values get sklearn-style errors, never a raw IndexError (issue 15, items 7, 8, 13)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from twd_lab import (
    create_training_example,
    detect_triggerword,
    graph_spectrogram,
    insert_audio_clip,
    insert_ones,
    is_overlapping,
    match_target_amplitude,
    preprocess_audio,
)
from twd_lab.constants import CLIP_SAMPLES, SAMPLE_RATE
from twd_lab.validation import check_finite, sample_array

BG = np.zeros(CLIP_SAMPLES, np.float32)
CLIP = np.full(SAMPLE_RATE, 0.1, np.float32)
NAN = np.full(SAMPLE_RATE, np.nan, np.float32)
NAN_BG = np.full(CLIP_SAMPLES, np.nan, np.float32)
INF = np.where(np.arange(SAMPLE_RATE) % 2, np.inf, 0.0).astype(np.float32)

DOORS = {
    "graph_spectrogram": (lambda x: graph_spectrogram(x, plot=False), "wav_file_or_samples"),
    "insert_audio_clip (background)": (
        lambda x: insert_audio_clip(np.resize(x, CLIP_SAMPLES), CLIP, [], rng=0),
        "background",
    ),
    "insert_audio_clip (clip)": (lambda x: insert_audio_clip(BG, x, [], rng=0), "audio_clip"),
    "create_training_example (background)": (
        lambda x: create_training_example(np.resize(x, CLIP_SAMPLES), [CLIP], [CLIP], rng=0),
        "background",
    ),
    "create_training_example (activates)": (
        lambda x: create_training_example(BG, [x], [CLIP], rng=3),  # seed 3 draws an activate
        "activates[0]",
    ),
    "match_target_amplitude": (lambda x: match_target_amplitude(x, -20.0), "sound"),
    "preprocess_audio": (preprocess_audio, "path_or_samples"),
    "detect_triggerword": (detect_triggerword, "path_or_samples"),  # refused before any model is loaded
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("bad", [NAN, INF], ids=["nan", "inf"])
def test_every_door_refuses_non_finite_audio_naming_the_argument(door, bad):
    call, name = DOORS[door]
    with pytest.raises(ValueError, match="^" + re.escape(name) + " must hold finite numbers"):
        call(bad)


def test_a_nan_from_augment_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"augment's output for activates\[0\]"):
        create_training_example(BG, [CLIP], [CLIP], rng=3, augment=lambda clip, rng: clip * np.nan)


def test_channels_first_is_refused_not_taken_as_44100_channels():
    with pytest.raises(ValueError, match=r"shape \(2, 44100\).*pass path_or_samples\.T"):
        preprocess_audio(np.zeros((2, SAMPLE_RATE)))
    with pytest.raises(ValueError, match=r"wav_file_or_samples.*\(2, 44100\)"):
        graph_spectrogram(np.zeros((2, SAMPLE_RATE)), plot=False)
    stereo = np.stack([CLIP, CLIP], axis=1)  # (n, channels): the documented layout
    assert preprocess_audio(stereo).shape == (SAMPLE_RATE,)
    assert sample_array(np.zeros((10, 33)).T, "x").shape == (33, 10)  # many samples, few channels: fine
    with pytest.raises(ValueError, match="channels"):
        sample_array(np.zeros((1000, 33)), "x")  # more than MAX_CHANNELS: surely transposed


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: insert_audio_clip(None, CLIP, [], rng=0), TypeError, "background must be .* got None"),
        (lambda: insert_audio_clip("bg.wav", CLIP, [], rng=0), TypeError, "background .* got str 'bg.wav'"),
        (lambda: insert_audio_clip(BG, None, [], rng=0), TypeError, "audio_clip .* got None"),
        (
            lambda: create_training_example(BG, [None], [CLIP], rng=3),
            TypeError,
            r"activates\[0\] .* got None",
        ),
        (lambda: create_training_example(None, [CLIP], [CLIP], rng=0), TypeError, "background .* got None"),
        (lambda: create_training_example(BG, "abc", [CLIP], rng=0), TypeError, "activates must be a list"),
        (lambda: create_training_example(BG, [CLIP], [CLIP], Ty=0, rng=0), ValueError, "Ty must be"),
        (
            lambda: insert_audio_clip(BG, CLIP, (), rng=0),
            TypeError,
            "previous_segments must be a list .* got tuple",
        ),
        (lambda: insert_audio_clip(BG, CLIP, [(1,)], rng=0), TypeError, r"previous_segments\[0\] must be a"),
        (lambda: insert_audio_clip(BG, CLIP, [(5, 1)], rng=0), ValueError, "start_ms <= end_ms"),
        (lambda: insert_audio_clip(BG, CLIP, [], rng=0, max_tries=-1), ValueError, "max_tries"),
        (lambda: insert_ones(np.zeros((1, 1375)), float("nan")), ValueError, "segment_end_ms .* got nan"),
        (lambda: insert_ones(np.zeros((1, 1375)), float("inf")), ValueError, "segment_end_ms .* got inf"),
        (
            lambda: insert_audio_clip(BG, np.ones((SAMPLE_RATE, 2), np.float32), [], rng=0),
            ValueError,
            "audio_clip .*mono",
        ),
        (
            lambda: insert_audio_clip(np.zeros((CLIP_SAMPLES, 2), np.float32), CLIP, [], rng=0),
            ValueError,
            "background .*mono",
        ),
        (
            lambda: create_training_example(BG, [np.ones((SAMPLE_RATE, 2), np.float32)], [CLIP], rng=3),
            ValueError,
            r"activates\[0\] .*mono",
        ),
        (lambda: is_overlapping(None, []), TypeError, "segment_time must be a"),
        (lambda: is_overlapping((1, 2), [None]), TypeError, r"previous_segments\[0\]"),
        (lambda: match_target_amplitude(None, -20.0), TypeError, "sound .* got None"),
        (lambda: match_target_amplitude("x.wav", -20.0), TypeError, "sound .* got str"),
        (lambda: graph_spectrogram(None, plot=False), TypeError, "wav_file_or_samples .* got None"),
    ],
)
def test_bad_arguments_get_errors_that_name_them(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_integer_clips_are_scaled_like_integer_files():
    loud = np.full(SAMPLE_RATE, 25_747, np.int16)
    new, _ = insert_audio_clip(np.zeros(CLIP_SAMPLES, np.int16), loud, [], rng=0)
    assert new.dtype == np.float32
    assert new.max() == pytest.approx(25_747 / 32_768)


def test_check_finite_counts_what_is_wrong():
    with pytest.raises(ValueError, match="got 1 NaN and 2 infinite value"):
        check_finite(np.array([np.nan, np.inf, -np.inf, 0.0]), "x")
    assert check_finite(np.arange(3), "x") is not None  # integers are always finite


def test_a_missing_file_says_why_it_is_missing(tmp_path):
    from twd_lab.audio import read_wav

    (tmp_path / "afile").write_text("a file")
    (tmp_path / "link.wav").symlink_to(tmp_path / "gone.wav")
    cases = {
        "link.wav": "it is a link to .*gone.wav, which does not exist",
        "afile/x.wav": "afile is a file, not a folder",
        "nodir/sub/x.wav": "the folder .*nodir does not exist",
        "nope.wav": "nope.wav: no such file",
    }
    for name, words in cases.items():
        with pytest.raises(FileNotFoundError, match=words):
            read_wav(tmp_path / name)
