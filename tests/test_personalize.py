"""twd_lab.personalize and `twd-lab personalize`: recordings checked, a fine-tuned copy, the original kept."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from conftest import SR, noise, tone

from twd_lab.audio import dbfs, read_wav, write_wav
from twd_lab.cli import main
from twd_lab.constants import TARGET_DBFS
from twd_lab.personalize import MAX_WORD_S, load_recordings, prepare_recording

HAVE_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "openwakeword"))
needs_onnx = pytest.mark.skipif(
    not HAVE_ONNX, reason='needs onnxruntime and openwakeword: pip install "twd-lab[embedding]"'
)


def word(seconds: float = 0.6, seed: int = 0) -> np.ndarray:
    """A word-like burst with half a second of near-silence on each side."""
    quiet = noise(0.5, 1e-4, seed=seed)
    return np.concatenate([quiet, tone(seconds, 300.0 + 50 * seed, 0.3), quiet])


def test_prepare_recording_trims_silence_and_sets_the_level():
    raw = word(0.6)
    ready = prepare_recording(raw)
    assert 0.6 <= ready.size / SR <= 0.75  # the word and a little margin, not the second of silence
    assert dbfs(ready) == pytest.approx(TARGET_DBFS, abs=0.01)
    assert raw.size == word(0.6).size  # the input is not changed in place


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(SR, np.float32), "silent"),
        (tone(MAX_WORD_S + 0.5, 300.0, 0.3), "one spoken word"),
        (tone(0.05, 300.0, 0.3), "one spoken word"),
        (np.zeros((SR, 2), np.float32), r"shape \(n,\)"),
    ],
)
def test_prepare_recording_rejects_what_is_not_one_word(samples, message):
    with pytest.raises(ValueError, match=message):
        prepare_recording(samples, name="take3.wav")


def test_load_recordings_reads_a_folder_and_names_the_bad_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recordings(tmp_path / "nowhere")
    for i in range(2):
        write_wav(tmp_path / f"take{i}.wav", word(seed=i))
    with pytest.raises(ValueError, match="holds 2 audio file"):
        load_recordings(tmp_path)
    write_wav(tmp_path / "take2.wav", word(seed=2))
    clips = load_recordings(tmp_path)
    assert len(clips) == 3 and all(abs(dbfs(c) - TARGET_DBFS) < 0.01 for c in clips)
    write_wav(tmp_path / "take3.wav", tone(4.0, 300.0, 0.3))
    with pytest.raises(ValueError, match="take3.wav"):
        load_recordings(tmp_path)


def test_load_recordings_reads_the_formats_detect_reads(tmp_path):
    import soundfile as sf

    for i, (suffix, fmt) in enumerate([(".flac", "FLAC"), (".ogg", "OGG"), (".mp3", "MP3"), (".WAV", "WAV")]):
        sf.write(tmp_path / f"take{i}{suffix}", word(seed=i), SR, format=fmt)
    (tmp_path / "notes.txt").write_text("not audio")
    clips = load_recordings(tmp_path)
    assert len(clips) == 4 and all(abs(dbfs(c) - TARGET_DBFS) < 0.01 for c in clips)
    for i, clip in enumerate(clips):  # each one the word, in name order: 0.6 s, trimmed to about 0.7 s
        assert 0.6 <= clip.size / SR <= 0.8, i


def test_load_recordings_names_the_files_it_cannot_read(tmp_path):
    for i in range(3):
        (tmp_path / f"take{i}.wma").write_bytes(b"0&\xb2u")
    with pytest.raises(
        ValueError, match=r"holds 0 audio file.*3 other file\(s\) \(take0.wma, take1.wma, take2.wma\).*ffmpeg"
    ):
        load_recordings(tmp_path)


@pytest.fixture(scope="module")
def heldout_voice():
    """Five clips of one held-out TTS speaker: a stand-in for a user's recordings."""
    from twd_lab.assets_index import bundled_dir

    index = json.loads((bundled_dir() / "index.json").read_text(encoding="utf-8"))
    files = sorted(c["file"] for c in index["clips"] if c["split"] == "heldout" and c["class"] == "activate")
    speaker = next(c["speaker"] for c in index["clips"] if c["file"] == files[0])
    own = [c["file"] for c in index["clips"] if c["speaker"] == speaker and c["class"] == "activate"]
    return [read_wav(bundled_dir() / f) for f in sorted(own)[:5]]


@needs_onnx
def test_personalize_fine_tunes_a_copy_and_keeps_the_original(heldout_voice):
    from twd_lab.embedding_detector import EmbeddingDetector
    from twd_lab.personalize import personalize

    base = EmbeddingDetector.load()
    before = [w.copy() for w in base.head.get_weights()]
    mine, info = personalize(base, heldout_voice, clips=8, epochs=1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, base.head.get_weights(), strict=True))
    changed = [not np.array_equal(a, b) for a, b in zip(before, mine.head.get_weights(), strict=True)]
    assert any(changed)
    assert (
        info["recordings"] == 5
        and info["positive_windows"] > 0
        and info["windows"] > info["positive_windows"]
    )
    assert mine.config.notes["personalized"] == info and "personalized" not in (base.config.notes or {})
    assert mine.config.threshold == base.config.threshold
    fa = info["false_accepts_per_hour"]
    assert fa["hours"] == pytest.approx(60 * 10 / 3600, abs=1e-3) and fa["before"] >= 0 and fa["after"] >= 0
    # the same seed gives the same head
    again, _ = personalize(base, heldout_voice, clips=8, epochs=1, seed=0)
    assert all(
        np.array_equal(a, b) for a, b in zip(mine.head.get_weights(), again.head.get_weights(), strict=True)
    )
    # the same person's other words can stand in for the bundled negatives
    _, info = personalize(base, heldout_voice[:3], other_words=heldout_voice[3:], clips=4, epochs=1, seed=1)
    assert info["other_words"] == 2 and info["recordings"] == 3
    with pytest.raises(ValueError, match="at least 3"):
        personalize(base, heldout_voice[:2], clips=8)
    with pytest.raises(ValueError, match="no_word_share"):
        personalize(base, heldout_voice, no_word_share=-1)


def test_cli_personalize_names_the_folder_option_that_is_wrong(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "takes").mkdir()
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    out = ["--out", "p.keras"]
    for argv, expected in (
        (["takes", "--other-words", "missing"], "--other-words: the folder missing does not exist"),
        (["takes", "--other-words", "a.wav"], "--other-words: a.wav is a file, not a folder"),
        (["missing"], "recordings: the folder missing does not exist"),
    ):
        assert main(["personalize", *argv, *out]) == 1
        assert capsys.readouterr().err.splitlines() == [f"twd-lab: error: {expected}"]


@needs_onnx
def test_cli_personalize_then_detect_with_the_new_head(tmp_path, heldout_voice, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, clip in enumerate(heldout_voice[:3]):
        write_wav(folder / f"take{i}.wav", clip)
    out = tmp_path / "my_detector.keras"
    words = tmp_path / "other"
    words.mkdir()
    code = main(["personalize", str(folder), "--other-words", str(words), "--out", str(out)])
    assert code == 1 and "recordings of other words" in capsys.readouterr().err and not out.exists()
    code = main(["personalize", str(folder), "--out", str(out), "--clips", "4", "--epochs", "1", "--quiet"])
    assert code == 0 and out.is_file() and out.with_suffix(".json").is_file()
    assert "personalized" in json.loads(out.with_suffix(".json").read_text())["notes"]
    capsys.readouterr()
    # nothing of the user's is overwritten without --overwrite
    stamp = out.stat().st_mtime_ns
    code = main(["personalize", str(folder), "--out", str(out), "--clips", "4", "--epochs", "1", "--quiet"])
    assert code == 1 and "already exists" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp
    clip = tmp_path / "say.wav"
    write_wav(clip, np.concatenate([noise(1.0, 0.01), heldout_voice[4], noise(2.0, 0.01)]))
    code = main(["detect", "--head", str(out), "--json", str(clip)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["duration_s"] > 3.0 and isinstance(result["triggers"], list)
    code = main(["detect", "--head", str(out), "--detector", "lab", str(clip)])
    assert code == 1 and "does not go with the lab network" in capsys.readouterr().err
