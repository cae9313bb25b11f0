"""Shared fixtures: small WAV files and lab-style folders generated on the fly (nothing is shipped)."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

SR = 44_100
ROOT = Path(__file__).resolve().parent.parent


def load_tool(name: str):
    """A script of ``tools/`` (``tools/<name>.py``) loaded as a module, for its functions."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def skip_without_embedding_detector() -> None:
    """Skip the calling test, with the reason, where the shipped speech-embedding detector cannot run."""
    from twd_lab.file_detection import embedding_detector_available

    if not embedding_detector_available():
        pytest.skip(
            'needs onnxruntime, openwakeword (pip install "twd-lab[embedding]") and assets/embedding_head.keras'
        )


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """``twd_lab.cli.main(argv)`` -> (exit status, stdout, stderr), argparse's exits included."""
    from twd_lab.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def tone(seconds: float, freq: float = 440.0, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, amp: float = 0.1, sr: int = SR, seed: int = 0, channels: int = 1) -> np.ndarray:
    n = round(seconds * sr)
    x = np.random.default_rng(seed).standard_normal((n, channels) if channels > 1 else n) * amp
    return np.clip(x, -1, 1).astype(np.float32)


def encode(x: np.ndarray, kind: str) -> np.ndarray:
    """Float samples in [-1, 1] -> the array scipy.io.wavfile.write stores for ``kind``."""
    if kind == "u8":
        return np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8)
    if kind == "i16":
        return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    if kind == "i32":
        return np.clip(np.round(x.astype(np.float64) * 2**31), -(2**31), 2**31 - 1).astype(np.int32)
    if kind in ("f32", "f64"):
        return x.astype(np.float32 if kind == "f32" else np.float64)
    raise ValueError(kind)


def write_24bit(path: Path, x: np.ndarray, sr: int = SR, *, extensible: bool = False) -> Path:
    """A 24-bit PCM WAV (scipy cannot write those), plain or WAVE_FORMAT_EXTENSIBLE."""
    x = x.reshape(len(x), -1)
    channels = x.shape[1]
    v = np.clip(np.round(x.astype(np.float64) * 2**23), -(2**23), 2**23 - 1).astype("<i4")
    payload = v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    block = 3 * channels
    if extensible:
        guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, sr, sr * block, block, 24, 22, 24, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", 1, channels, sr, sr * block, block, 24)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload))
    body += payload + (b"\x00" if len(payload) % 2 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.fixture
def wav_file(tmp_path):
    """``wav_file(x, kind="i16", sr=44100, name=...)`` writes ``x`` (float, (n,) or (n, ch)) and returns its path."""

    def make(x: np.ndarray, kind: str = "i16", sr: int = SR, name: str | None = None) -> Path:
        path = tmp_path / (name or f"clip_{kind}_{sr}_{np.asarray(x).ndim}.wav")
        if kind in ("i24", "i24x"):
            return write_24bit(path, np.asarray(x), sr, extensible=kind == "i24x")
        wavfile.write(path, sr, encode(np.asarray(x, dtype=np.float32), kind))
        return path

    return make


def make_raw_folder(root: Path) -> Path:
    """A small lab-style folder with mixed formats: stereo, 22.05 kHz, 24-bit, short background."""
    for sub in ("activates", "negatives", "backgrounds"):
        (root / sub).mkdir(parents=True)
    wavfile.write(root / "activates" / "1.wav", SR, encode(tone(0.8, 440), "i16"))
    stereo = np.stack([tone(1.0, 660), tone(1.0, 660, amp=0.3)], axis=1)
    wavfile.write(root / "activates" / "2.wav", SR, encode(stereo, "i16"))
    write_24bit(root / "activates" / "3.wav", tone(0.6, 880))
    wavfile.write(root / "negatives" / "1.wav", 22_050, encode(tone(0.5, 300, sr=22_050), "i16"))
    wavfile.write(root / "negatives" / "2.wav", SR, encode(noise(0.4, 0.2, seed=1), "f32"))
    wavfile.write(root / "backgrounds" / "1.wav", SR, encode(noise(10.0, 0.1, seed=2, channels=2), "i16"))
    wavfile.write(root / "backgrounds" / "2.wav", SR, encode(noise(3.0, 0.05, seed=3), "u8"))
    (root / "activates" / "notes.txt").write_text("not audio; the loader skips it")
    return root


@pytest.fixture
def raw_folder(tmp_path) -> Path:
    """A lab-style ``activates/ negatives/ backgrounds/`` folder of generated WAVs."""
    return make_raw_folder(tmp_path / "raw")


@pytest.fixture(scope="session")
def clips():
    """In-memory float32 clips at 44.1 kHz: ``(background, activates, negatives)``."""
    background = noise(10.0, 0.1, seed=4)
    word = tone(0.7, 500)
    activates = [word * np.hanning(len(word)).astype(np.float32), tone(1.2, 700)]
    negatives = [noise(0.5, 0.3, seed=5), tone(0.9, 250)]
    return background, activates, negatives
