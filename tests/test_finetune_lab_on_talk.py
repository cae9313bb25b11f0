"""tools/finetune_lab_on_talk.py: the talk examples it mixes into the lab network's training data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_tool

from twd_lab.constants import N_FREQ, SAMPLE_RATE, TX, TY

finetune = load_tool("finetune_lab_on_talk")


@pytest.fixture(scope="module")
def fake_talk():
    # Any 10 s signal stands in for a talk clip: the dataset only rolls it and hears it.
    return (0.1 * np.random.default_rng(3).standard_normal(10 * SAMPLE_RATE)).astype(np.float32)


def test_talk_alone_examples_are_the_talk_with_every_label_zero(fake_talk):
    data = finetune.TalkMixedDataset(
        "train", 1, 4, seed=1, talk_clips=[fake_talk], p_talk=1.0, p_talk_only=1.0
    )
    x, y = data[0]
    assert x.shape == (4, TX, N_FREQ) and y.shape == (4, TY, 1)
    assert not y.any()
    assert (x.reshape(4, -1).std(axis=1) > 0).all()


def test_talk_under_words_keeps_the_words_labels(fake_talk):
    data = finetune.TalkMixedDataset(
        "train", 1, 16, seed=1, talk_clips=[fake_talk], p_talk=1.0, p_talk_only=0.0
    )
    _, y = data[0]
    assert y.any()
    again = finetune.TalkMixedDataset("train", 1, 16, seed=1, talk_clips=[fake_talk], p_talk=1.0)
    np.testing.assert_array_equal(again[0][1], y)
