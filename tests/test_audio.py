"""twd_lab.audio: every common WAV encoding, loudness, pydub interop, the raw-folder loader, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, noise, tone

from twd_lab.audio import (
    AudioFileError,
    apply_gain,
    dbfs,
    fit_to_clip,
    get_wav_info,
    load_raw_audio,
    match_target_amplitude,
    read_wav,
    read_wav_raw,
    resample,
    to_samples,
    to_segment,
    write_wav,
)
from twd_lab.constants import CLIP_SAMPLES

TOL = {
    "u8": 1 / 128,
    "i16": 1 / 32768,
    "i24": 1 / 2**23,
    "i24x": 1 / 2**23,
    "i32": 1e-7,
    "f32": 0,
    "f64": 1e-7,
}


@pytest.mark.parametrize("kind", sorted(TOL))
@pytest.mark.parametrize("channels", [1, 2])
def test_read_wav_raw_reads_every_common_encoding(wav_file, kind, channels):
    x = tone(0.05, 1000, amp=0.7)
    if channels == 2:
        x = np.stack([x, -0.5 * x], axis=1)
    data, rate = read_wav_raw(wav_file(x, kind, sr=16_000))
    assert rate == 16_000
    assert data.dtype == np.float32 and data.shape == (len(x), channels)
    np.testing.assert_allclose(data, x.reshape(len(x), channels), atol=TOL[kind] + 1e-7)


def test_read_wav_mixes_stereo_by_averaging_and_resamples(wav_file):
    left, right = tone(0.5, 200, 0.4, sr=22_050), tone(0.5, 200, 0.2, sr=22_050)
    path = wav_file(np.stack([left, right], axis=1), "i16", sr=22_050)
    x = read_wav(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 2 * int(0.5 * 22_050)) <= 1
    # a 200 Hz tone survives resampling; its amplitude is the mean of the channels
    assert math.isclose(np.abs(x[1000:-1000]).max(), 0.3, abs_tol=0.005)
    both = read_wav(path, mono=False, sample_rate=22_050)
    assert both.shape == (int(0.5 * 22_050), 2)


def test_resample_identity_and_length():
    x = noise(0.1)
    assert resample(x, SR, SR) is not None and np.array_equal(resample(x, SR, SR), x)
    assert len(resample(x, SR, 16_000)) == math.ceil(len(x) * 16_000 / SR)
    with pytest.raises(ValueError, match="from_rate"):
        resample(x, 0, SR)


def test_write_wav_round_trips_and_refuses_to_overwrite(tmp_path):
    x = tone(0.1, 300)
    path = write_wav(tmp_path / "a.wav", x)
    back, rate = read_wav_raw(path)
    assert rate == SR
    np.testing.assert_allclose(back[:, 0], x, atol=1 / 32768)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_wav(path, x * 0)
    assert np.array_equal(read_wav_raw(path)[0], back)  # untouched
    write_wav(path, x * 0, overwrite=True)
    assert not read_wav_raw(path)[0].any()


def test_get_wav_info_keeps_scipy_meaning(wav_file):
    stereo = np.stack([tone(0.1), tone(0.1, amp=0.1)], axis=1)
    rate, data = get_wav_info(wav_file(stereo, "i16"))
    assert rate == SR and data.dtype == np.int16 and data.shape == (len(stereo), 2)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"hello, this is not a wav file at all", "not a WAV"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "a broken WAV file"),
    ],
)
def test_broken_files_raise_audio_file_error_naming_the_path(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    for reader in (
        read_wav_raw,
        read_wav,
        get_wav_info,
        lambda p: __import__("twd_lab").graph_spectrogram(p, plot=False),
    ):
        with pytest.raises(AudioFileError, match=message) as info:
            reader(path)
        assert str(path) in str(info.value)


def test_truncated_file_is_reported(wav_file):
    path = wav_file(tone(0.2))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(AudioFileError, match="truncated"):
        read_wav_raw(path)
    with pytest.raises(AudioFileError):
        get_wav_info(path)


def test_wav_with_no_samples_is_an_error(wav_file):
    with pytest.raises(AudioFileError, match="no audio samples"):
        read_wav_raw(wav_file(np.zeros(0, np.float32)))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_wav(tmp_path / "nope.wav")


def test_dbfs_matches_pydub_and_silence_is_minus_inf():
    x = tone(1.0, amp=0.5)
    assert math.isclose(dbfs(x), 20 * math.log10(0.5 / math.sqrt(2)), abs_tol=1e-3)
    assert math.isclose(dbfs(x), to_segment(x).dBFS, abs_tol=0.01)
    assert dbfs(np.zeros(100, np.float32)) == -math.inf
    # pydub's dBFS averages over all channels' samples; so does ours
    stereo = np.stack([x, np.zeros_like(x)], axis=1)
    assert math.isclose(dbfs(stereo), dbfs(x) - 10 * math.log10(2), abs_tol=1e-3)


def test_apply_gain_does_not_change_its_input():
    x = tone(0.1)
    y = apply_gain(x, -6.0)
    assert math.isclose(dbfs(y), dbfs(x) - 6.0, abs_tol=1e-4)
    assert np.array_equal(x, tone(0.1))
    with pytest.raises(ValueError, match="db"):
        apply_gain(x, float("nan"))


def test_match_target_amplitude_on_arrays_and_segments():
    x = noise(0.5, amp=0.05)
    out = match_target_amplitude(x, -20.0)
    assert math.isclose(dbfs(out), -20.0, abs_tol=1e-3)
    seg = match_target_amplitude(to_segment(x), -20.0)
    assert type(seg).__name__ == "AudioSegment" and math.isclose(seg.dBFS, -20.0, abs_tol=0.05)


def test_match_target_amplitude_leaves_silence_silent():
    silent = np.zeros(1000, np.float32)
    out = match_target_amplitude(silent, -20.0)
    assert np.isfinite(out).all() and not out.any()
    seg = to_segment(silent)
    assert match_target_amplitude(seg, -20.0).raw_data == seg.raw_data


def test_segment_round_trip():
    x = tone(0.3)
    seg = to_segment(x)
    assert seg.channels == 1 and seg.sample_width == 2 and seg.frame_rate == SR and len(seg) == 300
    np.testing.assert_allclose(to_samples(seg), x, atol=1 / 32768)
    stereo = seg.set_channels(2).set_frame_rate(22_050)
    assert abs(len(to_samples(stereo)) - len(x)) <= 2


def test_fit_to_clip_trims_and_loops():
    assert fit_to_clip(np.arange(CLIP_SAMPLES + 5, dtype=np.float32)).shape == (CLIP_SAMPLES,)
    short = fit_to_clip(np.arange(3, dtype=np.float32), 7)
    assert short.tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_load_raw_audio_reads_mixed_formats_as_arrays(raw_folder):
    activates, negatives, backgrounds = load_raw_audio(raw_folder, as_arrays=True)
    assert len(activates) == 3 and len(negatives) == 2 and len(backgrounds) == 2
    for clip in activates + negatives + backgrounds:
        assert clip.dtype == np.float32 and clip.ndim == 1
    assert abs(len(negatives[0]) - int(0.5 * SR)) <= 1  # 22.05 kHz resampled to 44.1 kHz
    assert all(len(b) == CLIP_SAMPLES for b in backgrounds)  # 3 s background looped to 10 s


def test_load_raw_audio_returns_lab_style_segments(raw_folder):
    activates, negatives, backgrounds = load_raw_audio(raw_folder)
    for seg in activates + negatives + backgrounds:
        assert (seg.channels, seg.frame_rate, seg.sample_width) == (1, SR, 2)
    assert len(backgrounds[0]) == 10_000 and len(activates[0]) == 800


def test_load_raw_audio_is_sorted_by_name(raw_folder):
    a1 = load_raw_audio(raw_folder, as_arrays=True)[0]
    assert len(a1[0]) == int(0.8 * SR)  # 1.wav, then 2.wav, then 3.wav


def test_load_raw_audio_bad_folders(tmp_path, raw_folder):
    with pytest.raises(FileNotFoundError, match="but the folder .*nowhere does not exist"):
        load_raw_audio(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="subfolder"):
        load_raw_audio(tmp_path / "raw" / "activates")
    for f in (raw_folder / "negatives").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match="no .wav files"):
        load_raw_audio(raw_folder)


def test_load_raw_audio_without_a_path_reads_the_bundled_assets():
    pytest.importorskip("twd_lab.assets_index")
    from twd_lab.assets_index import bundled_raw_dir

    try:
        root = bundled_raw_dir()
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"no bundled assets: {exc}")
    activates, negatives, backgrounds = load_raw_audio(as_arrays=True)
    assert len(activates) == len(list((root / "activates").glob("*.wav")))
    assert negatives and all(len(b) == CLIP_SAMPLES for b in backgrounds)


REAL = Path(__file__).resolve().parents[2] / "shared" / "real_speech" / "coursera"


@pytest.mark.real_speech
@pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/real_speech (not in a user's clone)")
def test_load_raw_audio_reads_the_course_folder_with_mixed_mono_and_stereo():
    activates, negatives, backgrounds = load_raw_audio(REAL, as_arrays=True)
    assert (len(activates), len(negatives), len(backgrounds)) == (10, 10, 2)
    assert all(c.ndim == 1 and np.isfinite(c).all() for c in activates + negatives + backgrounds)
