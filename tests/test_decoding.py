"""twd_lab.decoding: formats the old WAV parser refused, refusals at the door, block reading and resampling."""

from __future__ import annotations

import os
import struct
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, noise, skip_without_embedding_detector, tone

from twd_lab.audio import AudioFileError, get_wav_info, read_wav, read_wav_raw, resample
from twd_lab.decoding import BlockResampler, audio_info, read_blocks


@pytest.mark.parametrize(
    "suffix, subtype, tol",
    [
        (".wav", "ALAW", 0.02),  # the old parser: "unsupported encoding: 8-bit format tag 0x0006"
        (".wav", "ULAW", 0.02),
        (".flac", "PCM_16", 1 / 32768 + 1e-7),
        (".flac", "PCM_24", 1e-6),
        (".ogg", "VORBIS", None),
        (".mp3", "MPEG_LAYER_III", None),  # the old parser: "not a WAV file ... got b'ID3...'"
    ],
)
def test_reads_formats_the_hand_written_parser_refused(tmp_path, suffix, subtype, tol):
    x = tone(0.5, 440, amp=0.5)
    path = tmp_path / f"clip{suffix}"
    sf.write(path, x, SR, subtype=subtype)
    data, rate = read_wav_raw(path)
    assert rate == SR and data.shape[1] == 1
    if tol is not None:
        assert data.shape[0] == x.size
        np.testing.assert_allclose(data[:, 0], x, atol=tol)
    else:  # lossy codecs: the same tone, about as long, at about the same level
        assert abs(data.shape[0] - x.size) < 0.1 * SR
        assert abs(np.sqrt(np.mean(data**2)) - 0.5 / np.sqrt(2)) < 0.05
    assert read_wav(path).dtype == np.float32
    rate, native = get_wav_info(path)
    assert rate == SR and native.ndim == 1


def test_ffmpeg_piped_wav_with_unknown_sizes_is_read_to_the_end(wav_file):
    x = tone(0.3, 300)
    raw = bytearray(wav_file(x).read_bytes())
    raw[4:8] = struct.pack("<I", 0xFFFFFFFF)
    at = raw.find(b"data")
    raw[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFFFF)
    piped = wav_file(x).with_name("piped.wav")
    piped.write_bytes(bytes(raw))
    np.testing.assert_allclose(read_wav(piped), x, atol=1 / 32768)


def test_a_header_that_declares_one_hertz_is_refused_before_any_work(wav_file):
    path = wav_file(noise(0.5))
    raw = bytearray(path.read_bytes())
    fmt = raw.find(b"fmt ") + 8
    raw[fmt + 4 : fmt + 8] = struct.pack("<I", 1)
    path.write_bytes(bytes(raw))
    for reader in (read_wav, read_wav_raw, audio_info, lambda p: list(read_blocks(p))):
        with pytest.raises(
            AudioFileError, match=r"declares a sample rate of 1 Hz, below the 4,000 Hz minimum"
        ):
            reader(path)


@pytest.mark.parametrize(
    ("rate", "says"),
    [
        (
            2_000,
            "declares a sample rate of 2,000 Hz, below the 4,000 Hz minimum: too little of speech is left",
        ),
        (400_000, "declares a sample rate of 400,000 Hz, above the 384,000 Hz maximum"),
    ],
)
def test_a_real_rate_outside_the_range_says_which_limit_and_not_that_the_header_is_broken(
    wav_file, rate, says
):
    path = wav_file(noise(0.5, sr=rate), sr=rate)
    with pytest.raises(AudioFileError, match=says) as caught:
        read_wav(path)
    assert "header" not in str(caught.value)


def test_nan_samples_are_an_error_naming_the_file_not_silence(wav_file):
    x = noise(0.2)
    x[100] = np.nan
    path = wav_file(x, "f32")
    for reader in (read_wav, get_wav_info, lambda p: list(read_blocks(p))):
        with pytest.raises(AudioFileError, match="NaN or infinite") as info:
            reader(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_fifos_and_devices_are_refused_without_opening_them(tmp_path):
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)  # opening it would block until a writer comes
    with pytest.raises(AudioFileError, match=r"x.wav: is a FIFO \(named pipe\), not an audio file"):
        read_wav(fifo)
    with pytest.raises(AudioFileError, match="/dev/zero: is a device"):
        read_wav("/dev/zero")


def test_m4a_without_pyav_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "voice.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + bytes(64))
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    with pytest.raises(AudioFileError, match=r"voice.m4a: M4A/MP4 \(AAC\) audio needs pip install av"):
        read_wav(path)


@pytest.mark.parametrize("rates", [(48_000, SR), (16_000, SR), (SR, 16_000), (22_050, SR), (8_000, 16_000)])
def test_block_resampler_equals_the_whole_signal_resampled(rates):
    x = noise(1.3, sr=rates[0], seed=3)
    whole = resample(x, *rates)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(x.size, 12, replace=False))
    r = BlockResampler(*rates)
    out = np.concatenate([r.feed(part) for part in np.split(x, cuts)] + [r.finish()])
    assert out.shape == whole.shape
    np.testing.assert_allclose(out, whole, atol=1e-6)


def test_read_blocks_gives_what_read_wav_gives(wav_file):
    stereo = np.stack([noise(2.5, sr=48_000, seed=1), noise(2.5, sr=48_000, seed=2)], axis=1)
    path = wav_file(stereo, "i16", sr=48_000)
    blocks = list(read_blocks(path, block_s=0.3))
    assert len(blocks) > 5 and max(b.size for b in blocks) < 0.5 * SR
    np.testing.assert_allclose(np.concatenate(blocks), read_wav(path), atol=1e-6)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (48_000, 2, stereo.shape[0])


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_twd_lab_detect_refuses_devices_fifos_header_bombs_and_nan_files_in_one_line(
    tmp_path, wav_file, capsys
):
    from twd_lab.cli import main

    skip_without_embedding_detector()
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    bomb = wav_file(noise(0.5), name="bomb.wav")
    raw = bytearray(bomb.read_bytes())
    raw[raw.find(b"fmt ") + 12 : raw.find(b"fmt ") + 16] = struct.pack("<I", 1)
    bomb.write_bytes(bytes(raw))
    nans = wav_file(np.full(SR, np.nan, np.float32), "f32", name="nans.wav")
    for path, why in [
        ("/dev/zero", "is a device"),
        (fifo, "is a FIFO"),
        (bomb, "declares a sample rate of 1 Hz"),
        (nans, "NaN or infinite"),  # it used to report "activate: none"
    ]:
        assert main(["detect", str(path), "--detector", "embedding"]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert err[0].startswith("twd-lab: error: ") and str(path) in err[0] and why in err[0]


def test_m4a_is_read_through_pyav_when_it_is_installed(tmp_path):
    av = pytest.importorskip("av", reason="the optional PyAV decoder (pip install av) is not installed")
    from fractions import Fraction

    x = tone(1.0, 440, amp=0.5)
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=SR)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(x[None, :], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SR, 0, Fraction(1, SR)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (SR, 1) and info.format == "M4A/MP4 (AAC)"
    y = read_wav(path)
    assert abs(y.size - x.size) < 0.1 * SR  # AAC adds an encoder delay
    assert abs(np.sqrt(np.mean(y**2)) - 0.5 / np.sqrt(2)) < 0.05
