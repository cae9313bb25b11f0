"""Augmentation and generated noise: seeded, vectorised, and doing what their names say."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from twd_lab import augment, noise

SR = 16_000


def tone(freq_hz: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def band_energy(x: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


def dominant_hz(x: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()])


@pytest.fixture
def speechy() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SR).astype(np.float32) * 0.1
    return x * np.hanning(SR).astype(np.float32)


def test_word_augmenter_is_deterministic_for_a_seed(speechy):
    aug = augment.WordAugmenter(sample_rate=SR)
    a = aug(speechy, np.random.default_rng(5))
    b = aug(speechy, np.random.default_rng(5))
    c = aug(speechy, np.random.default_rng(6))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not (len(a) == len(c) and np.array_equal(a, c))


def test_word_augmenter_accepts_an_int_seed_and_keeps_the_input(speechy):
    before = speechy.copy()
    out = augment.WordAugmenter(sample_rate=SR)(speechy, 3)
    np.testing.assert_array_equal(speechy, before)
    assert np.isfinite(out).all()


def test_word_augmenter_always_lowpasses():
    aug = augment.WordAugmenter(sample_rate=44_100, lowpass_range_hz=(4000.0, 4000.0), p_eq=0, p_reverb=0)
    x = np.random.default_rng(1).standard_normal(44_100).astype(np.float32) * 0.1
    y = aug(x, 0)
    assert band_energy(y, 9000, 22050, 44_100) < 1e-3 * band_energy(y, 0, 4000, 44_100)


def test_background_augmenter_is_deterministic_and_lowpasses():
    x = np.random.default_rng(2).standard_normal(2 * SR).astype(np.float32) * 0.01
    aug = augment.BackgroundAugmenter(sample_rate=SR, lowpass_range_hz=(3500.0, 3500.0))
    np.testing.assert_array_equal(aug(x, 1), aug(x, 1))
    y = aug(x, 1)
    assert band_energy(y, 6000, 8000) < 1e-3 * band_energy(y, 0, 3000)


@pytest.mark.parametrize("db", [-12.0, -3.0, 0.0, 6.0])
def test_gain_changes_level_by_db(db):
    x = tone(440)
    assert augment.rms_db(augment.gain(x, db)) - augment.rms_db(x) == pytest.approx(db, abs=1e-4)


@pytest.mark.parametrize("factor", [0.8, 1.0, 1.25, 2.0])
def test_speed_changes_length_by_the_factor_and_pitch_with_it(factor):
    x = tone(500)
    y = augment.speed(x, factor)
    assert len(y) == round(len(x) / factor)
    assert dominant_hz(y) == pytest.approx(500 * factor, rel=0.02)


@pytest.mark.parametrize("rate", [0.8, 1.2])
def test_time_stretch_changes_length_but_not_pitch(rate):
    x = tone(500)
    y = augment.time_stretch(x, rate)
    assert len(y) == round(len(x) / rate)
    assert dominant_hz(y) == pytest.approx(500, rel=0.03)


@pytest.mark.parametrize("semitones", [-3.0, 2.0])
def test_pitch_shift_keeps_length_and_moves_pitch(semitones):
    x = tone(500)
    y = augment.pitch_shift(x, semitones)
    assert len(y) == len(x)
    assert dominant_hz(y) == pytest.approx(500 * 2 ** (semitones / 12), rel=0.03)


def test_lowpass_removes_energy_above_the_cutoff():
    x = tone(500) + tone(6000)
    y = augment.lowpass(x, 3000, sample_rate=SR)
    assert band_energy(y, 5500, 6500) < 1e-4 * band_energy(x, 5500, 6500)
    assert band_energy(y, 400, 600) == pytest.approx(band_energy(x, 400, 600), rel=0.05)


def test_lowpass_at_or_above_nyquist_is_a_no_op():
    x = tone(500)
    np.testing.assert_array_equal(augment.lowpass(x, 9000, sample_rate=SR), x)


def test_equalize_applies_the_curve():
    x = tone(1000)
    y = augment.equalize(x, np.array([-6.0, -6.0]), sample_rate=SR)
    assert augment.rms_db(y) - augment.rms_db(x) == pytest.approx(-6.0, abs=0.05)


def test_room_response_decays_to_its_rt60():
    h = augment.room_impulse_response(0.5, sample_rate=SR, drr_db=0.0, predelay_ms=0.0, rng=0)
    assert h[0] == 1.0
    early = np.mean(h[int(0.01 * SR) : int(0.05 * SR)] ** 2)
    late = np.mean(h[int(0.45 * SR) : int(0.5 * SR)] ** 2)
    assert 10 * np.log10(late / early) < -35


def test_reverb_adds_a_tail_after_the_clip():
    x = np.zeros(SR // 2, dtype=np.float32)
    x[1000:1100] = 0.5
    rir = augment.room_impulse_response(0.4, sample_rate=SR, drr_db=0.0, rng=1)
    y = augment.reverb(x, rir, tail_s=0.2, sample_rate=SR, keep_level=False)
    assert len(y) == len(x) + int(0.2 * SR)
    assert np.abs(y[3000:6000]).max() > 1e-3  # energy long after the burst
    assert np.abs(x[3000:6000]).max() == 0


def test_reverb_keeps_the_level():
    x = tone(300)
    y = augment.reverb(x, augment.random_rir(sample_rate=SR, rng=2), sample_rate=SR)
    assert augment.rms_db(y[: len(x)]) == pytest.approx(augment.rms_db(x), abs=0.01)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_add_noise_achieves_the_snr(snr_db):
    x = tone(440)
    n = np.random.default_rng(0).standard_normal(3000).astype(np.float32)
    y = augment.add_noise(x, n, snr_db, rng=1)
    measured = augment.rms_db(x) - augment.rms_db(y - x)
    assert measured == pytest.approx(snr_db, abs=0.1)
    y_white = augment.add_noise(x, None, snr_db, rng=1)
    assert augment.rms_db(x) - augment.rms_db(y_white - x) == pytest.approx(snr_db, abs=0.1)


def test_silence_gives_no_nan_anywhere():
    z = np.zeros(SR, dtype=np.float32)
    outs = [
        augment.gain(z, 6),
        augment.speed(z, 1.1),
        augment.time_stretch(z, 0.9),
        augment.pitch_shift(z, 2),
        augment.lowpass(z, 4000, sample_rate=SR),
        augment.highpass(z, 100, sample_rate=SR),
        augment.equalize(z, np.array([3.0, -3.0]), sample_rate=SR),
        augment.reverb(z, augment.random_rir(sample_rate=SR, rng=0), sample_rate=SR),
        augment.add_noise(z, None, 10, rng=0),
        augment.WordAugmenter(sample_rate=SR)(z, 0),
        augment.BackgroundAugmenter(sample_rate=SR)(z, 0),
        augment.WordAugmenter(sample_rate=SR)(np.zeros(0, np.float32), 0),
    ]
    for y in outs:
        assert np.isfinite(y).all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: augment.speed(np.zeros((2, 10)), 1.0), "1-D"),
        (lambda: augment.speed(np.zeros(10), 0), "factor"),
        (lambda: augment.speed(np.zeros(10), 10), "factor"),
        (lambda: augment.time_stretch(np.zeros(10), -1), "rate"),
        (lambda: augment.pitch_shift(np.zeros(10), 40), "semitones"),
        (lambda: augment.gain(np.zeros(10), float("nan")), "db"),
        (lambda: augment.lowpass(np.zeros(10), -5), "cutoff_hz"),
        (lambda: augment.lowpass(np.zeros(10), 1000, sample_rate=0), "sample_rate"),
        (lambda: augment.equalize(np.zeros(10), np.array([1.0])), "curve_db"),
        (lambda: augment.reverb(np.zeros(10), np.zeros(0)), "rir"),
        (lambda: augment.add_noise(np.zeros(10), np.zeros(0), 10), "noise"),
        (lambda: augment.add_noise(np.zeros(10), None, float("inf")), "snr_db"),
        (lambda: augment.room_impulse_response(0), "rt60_s"),
        (lambda: augment.WordAugmenter()(np.zeros(10), "seed"), "rng"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", noise.KINDS)
def test_backgrounds_are_seeded_and_at_their_level(kind):
    words = [tone(200 + 50 * i, 0.4) for i in range(5)]
    a = noise.make_background(kind, rng=7, duration_s=2.0, sample_rate=SR, words=words, level_dbfs=-40)
    b = noise.make_background(kind, rng=7, duration_s=2.0, sample_rate=SR, words=words, level_dbfs=-40)
    assert a.shape == (2 * SR,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert augment.rms_db(a) == pytest.approx(-40, abs=0.01)
    assert np.isfinite(a).all()


def test_background_levels_are_drawn_between_minus_55_and_minus_28():
    levels = [
        augment.rms_db(noise.make_background("pink", rng=s, duration_s=0.5, sample_rate=SR))
        for s in range(20)
    ]
    assert min(levels) >= -55.01 and max(levels) <= -27.99
    assert max(levels) - min(levels) > 10


def test_coloured_noise_slopes():
    n = 2**16
    white = noise.coloured_noise(n, 0, rng=0)
    brown = noise.coloured_noise(n, 2, rng=0)
    ratio_white = band_energy(white, 100, 200) / band_energy(white, 4000, 4100)
    ratio_brown = band_energy(brown, 100, 200) / band_energy(brown, 4000, 4100)
    assert 0.5 < ratio_white < 2
    assert ratio_brown > 100


def test_hum_sits_on_the_mains_frequency():
    x = noise.hum(SR * 2, SR, mains_hz=50.0, rng=0)
    spec = np.abs(np.fft.rfft(x))
    f = np.fft.rfftfreq(len(x), 1 / SR)
    assert f[spec.argmax()] % 50 == pytest.approx(0, abs=1)


def test_babble_needs_words_and_random_background_skips_it_without_them():
    with pytest.raises(ValueError, match="words"):
        noise.make_background("babble", rng=0, duration_s=1, sample_rate=SR)
    kinds = {noise.random_background(rng=s, duration_s=0.2, sample_rate=SR)[0] for s in range(30)}
    assert "babble" not in kinds and len(kinds) > 3


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        noise.make_background("thunder", rng=0)


def centroid_hz(x: np.ndarray, below_hz: float, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    keep = f < below_hz
    return float((spec * f)[keep].sum() / spec[keep].sum())


def test_formant_shift_moves_the_envelope_but_not_the_harmonics():
    pulses = np.zeros(SR)
    pulses[:: SR // 160] = 1.0  # f0 = 160 Hz
    b, a = scipy.signal.iirpeak(1000, 5, fs=SR)
    x = scipy.signal.lfilter(b, a, pulses).astype(np.float32)
    y = augment.formant_shift(x, 1.3, sample_rate=SR)
    assert len(y) == len(x)
    assert augment.rms_db(y) == pytest.approx(augment.rms_db(x), abs=0.01)
    # the envelope (spectral centroid) moves up by about the factor ...
    assert centroid_hz(y, 4000) / centroid_hz(x, 4000) == pytest.approx(1.3, abs=0.1)
    # ... and the harmonics stay on multiples of 160 Hz
    assert band_energy(y, 1270, 1290) > 10 * band_energy(y, 1350, 1370)
    with pytest.raises(ValueError, match="factor"):
        augment.formant_shift(x, 3.0, sample_rate=SR)
