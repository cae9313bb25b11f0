"""CausalNormalization: causal, chunkable, weight-free, high band zeroed, finite on silence."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from twd_lab.layers import CausalNormalization, bin_frequencies_hz, log_power_prior


def _power(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.gamma(1.0, 50.0, size=shape) * rng.uniform(0.1, 10, size=shape[-1])).astype("float32")


def test_layer_has_no_weights():
    layer = CausalNormalization()
    layer(_power((1, 20, 101)))
    assert layer.weights == []
    assert layer.count_params() == 0


def test_chunked_with_carried_state_equals_one_pass():
    x = _power((2, 700, 101))
    layer = CausalNormalization(mu0=log_power_prior(x)[0], sigma0=2.0)
    whole, whole_state = layer.normalize(x)
    state, parts = None, []
    for a, b in [(0, 1), (1, 130), (130, 130), (130, 531), (531, 700)]:
        y, state = layer.normalize(x[:, a:b], state)
        parts.append(np.asarray(y))
    np.testing.assert_allclose(np.concatenate(parts, axis=1), np.asarray(whole), rtol=1e-4, atol=1e-4)
    for s, w in zip(state, whole_state):
        np.testing.assert_allclose(np.asarray(s), np.asarray(w), rtol=1e-5, atol=1e-3)
    assert np.asarray(state[0]).shape == (2, 1, 1) and np.asarray(state[1]).shape == (2, 1, 101)


def test_output_is_causal():
    x = _power((1, 300, 101))
    changed = x.copy()
    changed[:, 200:] *= 1000.0
    layer = CausalNormalization()
    a, b = np.asarray(layer(x)), np.asarray(layer(changed))
    np.testing.assert_array_equal(a[:, :200], b[:, :200])
    assert not np.allclose(a[:, 200:], b[:, 200:])


def test_bins_above_max_hz_are_zero():
    y = np.asarray(CausalNormalization(max_hz=7800.0)(_power((1, 50, 101))))
    high = bin_frequencies_hz() > 7800.0
    assert high.sum() == 65
    assert np.all(y[..., high] == 0.0)
    assert np.all(np.abs(y[..., ~high]).sum(axis=1) > 0)


def test_silence_gives_finite_values():
    layer = CausalNormalization()
    y = np.asarray(layer(np.zeros((1, 2000, 101), "float32")))
    assert np.all(np.isfinite(y))
    speech_after_silence = np.concatenate([np.zeros((1, 500, 101)), _power((1, 100, 101))], 1)
    assert np.all(np.isfinite(np.asarray(layer(speech_after_silence.astype("float32")))))


def test_long_clip_is_standardised_after_the_first_second():
    x = _power((1, 5511, 101))
    y = np.asarray(CausalNormalization(max_hz=None)(x))[0, 551:]
    assert np.abs(y.mean(axis=0)).max() < 0.2
    assert np.all(np.abs(y.std(axis=0) - 1.0) < 0.2)


def test_config_round_trip_keeps_the_prior():
    mu0 = np.linspace(0, 5, 101).astype("float32")
    layer = CausalNormalization(mu0=mu0, sigma0=2.5, prior_frames=50, max_hz=None)
    clone = CausalNormalization.from_config(layer.get_config())
    np.testing.assert_array_equal(clone.mu0, mu0)
    assert clone.prior_frames == 50 and clone.max_hz is None
    x = _power((1, 30, 101))
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))


def test_bad_prior_shape_is_named():
    with pytest.raises(ValueError, match="mu0"):
        CausalNormalization(mu0=[1.0, 2.0])
