"""twd_lab.spectrogram: the lab's values (equal to mlab.specgram), shapes, channels, no figure leak."""

from __future__ import annotations

import gc
import multiprocessing
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from conftest import SR, noise, tone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib import mlab

from twd_lab.constants import CLIP_SAMPLES, N_FREQ, TX, frames_for_samples
from twd_lab.spectrogram import graph_spectrogram, pcm16_frames, spectrogram


def lab(x):
    with warnings.catch_warnings():  # mlab warns when the signal is exactly one window long
        warnings.simplefilter("ignore", UserWarning)
        return mlab.specgram(x, NFFT=200, Fs=8000, noverlap=120)[0]


def assert_close_db(ours, ref, tol_db=0.01, within_db=60.0):
    """Within ``tol_db`` for every bin no more than ``within_db`` below its frame's loudest bin."""
    peak = ref.max(axis=0, keepdims=True)
    mask = (ref > peak * 10 ** (-within_db / 10)) & (ref > 1e-30)  # below 1e-30 float32 underflows
    err = np.abs(10 * np.log10(ours[mask] / ref[mask]))
    assert err.max(initial=0.0) <= tol_db


def test_ten_second_clip_gives_101_by_5511():
    assert spectrogram(np.zeros(CLIP_SAMPLES, np.float32)).shape == (N_FREQ, TX) == (101, 5511)


def test_frame_count_is_n_minus_120_over_80():
    # the lab's off-by-one: one sample short of 10 s loses a frame, hence clips are fit to 10 s exactly
    assert spectrogram(noise(1.0)[:441]).shape[1] == frames_for_samples(441) == 4
    assert frames_for_samples(CLIP_SAMPLES - 1) == 5510
    assert frames_for_samples(CLIP_SAMPLES + 79) == 5511


def test_equals_mlab_on_speechlike_audio_float32_and_float64():
    x = (noise(10.0, 0.1) + tone(10.0, 440, 0.3)) * 32768
    ref = lab(x)
    assert_close_db(spectrogram(x), ref)
    np.testing.assert_allclose(spectrogram(x, dtype=np.float64), ref, rtol=1e-6, atol=ref.max() * 1e-13)
    assert spectrogram(x).dtype == np.float32 and spectrogram(x, dtype=np.float64).dtype == np.float64


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float32, st.integers(200, 3000), elements=st.floats(-1, 1, width=32, allow_subnormal=False)),
    st.sampled_from([1.0, 32768.0]),
)
def test_property_matches_mlab_specgram(x, scale):
    x = x * np.float32(scale)
    ref = lab(x)
    np.testing.assert_allclose(
        spectrogram(x, dtype=np.float64), ref, rtol=1e-6, atol=max(ref.max(), 1e-30) * 1e-12
    )
    assert_close_db(spectrogram(x), ref)


@pytest.mark.parametrize("workers", [2, 3, 5])
@pytest.mark.parametrize("seconds", [10.0, 4.7])
def test_threads_give_the_same_bits_as_one(workers, seconds):
    x = noise(seconds, 0.3, seed=3) * 32768
    one = spectrogram(x, workers=1)
    np.testing.assert_array_equal(spectrogram(x, workers=workers), one)
    np.testing.assert_array_equal(
        spectrogram(x.astype(np.float64), dtype=np.float64, workers=workers),
        spectrogram(x.astype(np.float64), dtype=np.float64, workers=1),
    )


def test_workers_must_be_a_whole_number_of_threads():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers"):
            spectrogram(np.zeros(CLIP_SAMPLES, np.float32), workers=bad)


def _spectrogram_in_child(queue):
    queue.put(float(spectrogram(noise(10.0, 0.3, seed=4) * 32768, workers=2).sum()))


def test_a_forked_child_gets_its_own_threads():
    # the parent's helper threads do not exist in a forked child: the child must make its own, not hang
    x = noise(10.0, 0.3, seed=4) * 32768
    expected = float(spectrogram(x, workers=2).sum())
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_spectrogram_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and child.exitcode == 0
    assert queue.get(timeout=5) == expected


def test_pcm16_frames_is_the_model_input_of_float_audio():
    audio = noise(3.0, 0.2, seed=5)
    frames = pcm16_frames(audio)
    assert frames.shape == (frames_for_samples(audio.size), N_FREQ) and frames.flags.c_contiguous
    assert_close_db(frames.T, lab(audio.astype(np.float64) * 32768))
    out = np.empty_like(frames)
    assert pcm16_frames(audio, out=out) is out
    np.testing.assert_array_equal(out, frames)
    with pytest.raises(ValueError, match="out must be"):
        pcm16_frames(audio, out=np.empty((frames.shape[0] + 1, N_FREQ), np.float32))
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        pcm16_frames(np.stack([audio, audio], axis=1))


def test_int16_input_gives_the_lab_values():
    x = (noise(0.5, 0.2) * 32767).astype(np.int16)
    assert_close_db(spectrogram(x), lab(x))


def test_stereo_uses_channel_zero_like_the_lab():
    left, right = noise(0.5, seed=1), noise(0.5, seed=2)
    stereo = np.stack([left, right], axis=1)
    np.testing.assert_array_equal(spectrogram(stereo), spectrogram(left))


def test_too_short_or_wrong_shape_is_an_error():
    with pytest.raises(ValueError, match="at least NFFT=200"):
        spectrogram(np.zeros(199))
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        spectrogram(np.zeros((2, 2, 300)))
    with pytest.raises(ValueError, match="dtype"):
        spectrogram(np.zeros(300), dtype=np.int16)


def test_graph_spectrogram_reads_a_wav_like_the_lab(wav_file):
    stereo = np.stack([noise(1.0, seed=3), noise(1.0, seed=4)], axis=1)
    path = wav_file(stereo, "i16")
    x = graph_spectrogram(path, plot=False)
    from scipy.io import wavfile

    _, data = wavfile.read(path)
    assert_close_db(x, lab(data[:, 0]))
    assert graph_spectrogram(str(path), plot=False).shape == (101, frames_for_samples(SR))


def test_graph_spectrogram_does_not_leak_figures(wav_file):
    import matplotlib.pyplot as plt

    path = wav_file(noise(1.0))
    before = plt.get_fignums()
    gc.collect()
    for _ in range(5):
        graph_spectrogram(path)  # plot=True, the lab's default
    assert plt.get_fignums() == before


def test_plot_labels_frequency_axis_in_real_hz():
    from twd_lab.plotting import new_axes, plot_spectrogram

    ax = new_axes()
    graph_spectrogram(noise(1.0), ax=ax)
    _low, high = ax.get_ylim()
    assert high == pytest.approx(SR / 2, rel=0.01)  # not the lab's 4000 Hz (Fs=8000)
    assert ax.get_xlim()[1] == pytest.approx(1.0, abs=0.01)
    assert "Hz" in ax.get_ylabel() and "s" in ax.get_xlabel()
    assert plot_spectrogram(spectrogram(noise(0.2)), ax=ax) is ax


def test_plot_labels_and_probabilities_draw_on_given_axes():
    from twd_lab.plotting import new_axes, plot_labels, plot_probabilities

    y = np.zeros((1, 1375), np.float32)
    y[0, 100:150] = 1
    ax = new_axes()
    assert plot_labels(y, ax=ax) is ax
    assert ax.get_xlim()[1] == pytest.approx(10.0, abs=0.5)
    ax2 = plot_probabilities(np.linspace(0, 1, 1375).reshape(1, 1375, 1), threshold=0.5)
    assert ax2.get_ylabel() == "probability" and len(ax2.lines) == 2


def test_the_fft_into_a_reused_buffer_equals_scipy_fft(monkeypatch):
    import twd_lab.spectrogram as module

    x = noise(10.0, 0.3, seed=6) * 32768
    fast = spectrogram(x, workers=1)
    monkeypatch.setattr(module, "_R2C", None)  # the public scipy.fft.rfft path
    np.testing.assert_array_equal(spectrogram(x, workers=1), fast)
