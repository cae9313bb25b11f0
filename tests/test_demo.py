"""`twd-lab demo`'s files: a mix that does not clip, and a picture and summary that say what is what."""

from __future__ import annotations

import json

import numpy as np
import pytest
from twd_lab.inference import Trigger


@pytest.mark.slow
def test_demo_example_does_not_clip_and_its_summary_says_which_probability_is_which(tmp_path):
    from twd_lab.audio import read_wav
    from twd_lab.demo import run_demo

    result = run_demo(tmp_path / "demo", seed=0)
    x = read_wav(result.files["example"])
    assert np.max(np.abs(x)) < 0.95  # at most -1 dBFS: no sample near full scale
    summary = json.loads(result.files["summary"].read_text())
    assert summary["triggers"], "the shipped model hears this example's words"
    for trigger in summary["triggers"]:
        assert trigger["score"] <= trigger["peak"] <= summary["max_probability"]
        assert trigger["activate"] in (None, 0, 1)
    assert set(summary["meaning"]) == {
        "triggers.score",
        "triggers.peak",
        "triggers.activate",
        "max_probability",
    }
    report = result.report()
    assert "p: the probability at the step it fired; peak: the highest of that run" in report
    assert 'right after "activate" 1' in report


def test_synthesize_example_without_clipping_lowers_the_mix_instead(clips):
    from twd_lab.synthesis import synthesize_example

    background, _, negatives = clips
    click = np.zeros(22_050, np.float32)
    click[1000:1010] = 1.0  # a click: its peak is far above the mix's RMS, so the -20 dBFS mix clips
    loud = [click]
    clipped = synthesize_example(background, loud, negatives, rng=3, n_activates=3, n_negatives=0)
    kept = synthesize_example(
        background, loud, negatives, rng=3, n_activates=3, n_negatives=0, clipping=False
    )
    assert np.sum(np.abs(clipped.audio) >= 1.0) > 0
    assert np.max(np.abs(kept.audio)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    np.testing.assert_array_equal(kept.y, clipped.y)  # the same words in the same places
    unclipped = np.abs(clipped.audio) < 0.99
    ratio = kept.audio[unclipped] / np.where(clipped.audio[unclipped] == 0, 1, clipped.audio[unclipped])
    assert np.allclose(
        ratio[clipped.audio[unclipped] != 0], ratio[clipped.audio[unclipped] != 0][0], rtol=1e-3
    )


def test_demo_picture_names_the_words_and_tells_correct_from_false_firings():
    from matplotlib.colors import to_rgba

    from twd_lab.demo import CORRECT_COLOUR, FALSE_COLOUR, draw

    audio = np.zeros(441_000, np.float32)
    probs = np.zeros(1375, np.float32)
    fired = [Trigger(3.1, 0.6), Trigger(7.0, 0.55)]
    fig = draw(
        audio,
        np.zeros((1, 1375)),
        probs,
        fired,
        activates_ms=[(2000, 3000)],
        negatives_ms=[(6000, 6500)],
        matches=[0, None],
        peaks=[0.99, 0.7],
    )
    spectrogram_ax, labels_ax, probs_ax = fig.axes[:3]  # then the colour bar
    assert sorted(t.get_text() for t in spectrogram_ax.texts) == ["activate", "other word"]
    lines = [line for line in labels_ax.lines if line.get_xdata()[0] in (3.1, 7.0)]
    colours = {line.get_xdata()[0]: to_rgba(line.get_color()) for line in lines}
    assert colours == {3.1: to_rgba(CORRECT_COLOUR), 7.0: to_rgba(FALSE_COLOUR)}
    assert {t.get_text() for t in probs_ax.texts} == {"p 0.60, peak 0.99", "p 0.55, peak 0.70"}
    legend = [t.get_text() for t in probs_ax.get_legend().get_texts()]
    assert "fires: detects an activate" in legend and "fires: false alarm" in legend


@pytest.mark.parametrize("have_jupyter", [True, False])
def test_the_lessons_hint_installs_the_notebooks_extra_only_when_jupyterlab_is_missing(
    monkeypatch, have_jupyter
):
    import importlib.util

    from twd_lab.demo import lessons_hint

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: find_spec(name, *a) if have_jupyter or name != "jupyterlab" else None,
    )
    hint = lessons_hint()
    assert "jupyter lab " in hint
    if have_jupyter:
        assert "pip install" not in hint
    else:
        assert hint.startswith("python -m pip install ") and "[notebooks]" in hint
