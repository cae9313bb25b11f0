"""The bundled assets: the index agrees with the files, and the clips are what the index says.

These need no TTS engine: they read what is committed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from twd_lab import assets_build, assets_index
from twd_lab.assets_build import HARD_NEGATIVES, ORDINARY_WORDS, TRIGGER_TEXTS

ROOT = assets_index.bundled_dir()
INDEX = assets_index.clip_index()


def _read(path: Path) -> tuple[int, np.ndarray]:
    sr, data = scipy.io.wavfile.read(path)
    return sr, data


def test_bundled_dir_is_the_installed_assets_package():
    assert (ROOT / "__init__.py").is_file()
    assert (ROOT / "index.json").is_file()


def test_raw_dirs_are_lab_style_folders():
    for split in assets_index.SPLITS:
        raw = assets_index.bundled_raw_dir(split)
        for sub in ("activates", "negatives", "backgrounds"):
            assert sorted((raw / sub).glob("*.wav")), f"{raw / sub} has no wav files"


def test_index_and_files_agree_both_ways():
    listed = {r["file"] for r in INDEX}
    assert len(listed) == len(INDEX), "duplicate file in index.json"
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "raw").rglob("*.wav")}
    assert listed == on_disk


def test_every_record_has_the_documented_fields():
    fields = {
        "file",
        "class",
        "voice",
        "speaker",
        "engine",
        "text",
        "speed",
        "pitch",
        "split",
        "duration_s",
        "dbfs",
    }
    for r in INDEX:
        assert fields <= set(r), r
        assert r["class"] in assets_index.CLASSES
        assert r["split"] in assets_index.SPLITS
        assert r["file"].startswith(f"raw/{r['split']}/{assets_index.CLASS_DIRS[r['class']]}/")


def test_every_clip_is_readable_16bit_mono_at_its_recorded_rate_and_length():
    for r in INDEX:
        sr, data = _read(ROOT / r["file"])
        assert sr == r["sample_rate"] == 16_000, r["file"]
        assert data.dtype == np.int16 and data.ndim == 1, r["file"]
        assert abs(len(data) / sr - r["duration_s"]) < 1e-3, r["file"]


def test_classes_and_splits_are_all_present_with_enough_clips():
    counts = Counter((r["class"], r["split"]) for r in INDEX)
    for cls in assets_index.CLASSES:
        for split in assets_index.SPLITS:
            assert counts[cls, split] > 0, (cls, split)
    by_class = Counter(r["class"] for r in INDEX)
    assert by_class["activate"] >= 400
    assert by_class["negative"] >= 600
    assert by_class["negative"] > by_class["activate"]


def test_heldout_speakers_and_voices_never_appear_in_train():
    words = [r for r in INDEX if r["class"] != "background"]
    train_speakers = {r["speaker"] for r in words if r["split"] == "train"}
    held_speakers = {r["speaker"] for r in words if r["split"] == "heldout"}
    assert held_speakers and train_speakers
    assert not held_speakers & train_speakers
    assert not set(assets_index.voices("heldout")) & set(assets_index.voices("train"))
    meta = json.loads((ROOT / "index.json").read_text())
    assert sorted(held_speakers) == meta["heldout_speakers"]


def test_heldout_speakers_are_about_a_fifth_and_include_a_natural_voice():
    words = [r for r in INDEX if r["class"] != "background"]
    speakers = {r["speaker"] for r in words}
    held = {r["speaker"] for r in words if r["split"] == "heldout"}
    assert 0.1 <= len(held) / len(speakers) <= 0.3
    assert any(s.startswith("cmu:") for s in held)


def test_every_engine_has_clips_and_every_trigger_text_is_said():
    engines = Counter(r["engine"] for r in INDEX if r["class"] != "background")
    assert set(engines) >= {"espeak-ng", "flite", "festival"}
    texts = {r["text"] for r in INDEX if r["class"] == "activate"}
    assert texts == set(TRIGGER_TEXTS)


def test_negatives_hold_hard_negatives_in_both_splits_and_never_the_trigger():
    for split in assets_index.SPLITS:
        negs = [r["text"] for r in INDEX if r["class"] == "negative" and r["split"] == split]
        hard = [t for t in negs if t in HARD_NEGATIVES]
        assert 0.15 <= len(hard) / len(negs) <= 0.5
    assert not any("activate" in r["text"].lower() for r in INDEX if r["class"] != "activate")


def test_word_levels_are_normalised_and_never_clip():
    for r in INDEX:
        if r["class"] == "background":
            assert -56.0 <= r["dbfs"] <= -27.0, r
        else:
            assert -24.0 <= r["dbfs"] <= -19.5, r
            assert r["peak_dbfs"] <= -0.9, r


def test_recorded_levels_match_the_samples():
    rng = np.random.default_rng(0)
    for i in rng.choice(len(INDEX), 20, replace=False):
        r = INDEX[i]
        _, data = _read(ROOT / r["file"])
        peak = np.abs(data.astype(np.float64)).max() / 32768
        assert abs(20 * np.log10(peak) - r["peak_dbfs"]) < 0.1, r


def test_durations_are_in_range():
    for r in INDEX:
        if r["class"] == "background":
            assert r["duration_s"] == pytest.approx(10.0, abs=1e-3)
        else:
            assert 0.15 <= r["duration_s"] <= 2.0, r


def test_words_start_and_end_near_silence_after_trimming():
    rng = np.random.default_rng(1)
    words = [r for r in INDEX if r["class"] != "background"]
    for i in rng.choice(len(words), 20, replace=False):
        _, data = _read(ROOT / words[i]["file"])
        x = data.astype(np.float64) / 32768
        edge = int(0.005 * 16_000)
        peak = np.abs(x).max()
        assert np.abs(x[:edge]).max() < 0.5 * peak and np.abs(x[-edge:]).max() < 0.5 * peak


def test_list_clips_filters_by_class_and_split():
    held = assets_index.list_clips("activate", "heldout")
    assert held and all("/raw/heldout/activates/" in p.as_posix() for p in held)
    assert len(assets_index.list_clips()) == len(INDEX)
    with pytest.raises(ValueError, match="split"):
        assets_index.list_clips("activate", "test")
    with pytest.raises(ValueError, match="cls"):
        assets_index.list_clips("activates")


def test_chime_is_a_short_quiet_bell_at_44100():
    sr, data = _read(assets_index.chime_path())
    assert sr == 44_100 and data.dtype == np.int16 and data.ndim == 1
    assert 0.4 <= len(data) / sr <= 0.8
    x = data.astype(np.float64) / 32768
    assert 0.2 < np.abs(x).max() < 0.9
    assert np.abs(x[-100:]).max() < 0.01  # fades out, no click


def test_missing_model_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setattr(assets_index, "bundled_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="twd-lab train"):
        assets_index.model_path()
    with pytest.raises(FileNotFoundError, match="build_assets"):
        assets_index.bundled_raw_dir()


def test_committed_audio_stays_small():
    # 24.4 MB of words, backgrounds and the chime, and Lesson 3's 1.9 MB minute of talk (talk_sample.wav)
    total = sum(p.stat().st_size for p in ROOT.rglob("*.wav"))
    assert total < 27e6, f"{total / 1e6:.1f} MB of wav in assets/"


def test_nothing_from_the_shared_real_recordings_is_bundled():
    assert not [p for p in ROOT.rglob("*") if "real_speech" in p.as_posix() or "coursera" in p.as_posix()]


def test_stored_backgrounds_regenerate_from_the_seed():
    meta = json.loads((ROOT / "index.json").read_text())
    words = {"train": [], "heldout": []}
    for r in INDEX:
        if r["class"] == "negative" and r["text"] in ORDINARY_WORDS:
            words[r["split"]].append(_read(ROOT / r["file"])[1].astype(np.float32) / 32768.0)
    stored = {r["file"] for r in INDEX if r["class"] == "background"}
    made = list(assets_build.stored_backgrounds(meta["seed"], words, sample_rate=meta["sample_rate"]))
    assert {rel for rel, *_ in made} == stored
    for rel, _kind, _split, x in made:
        _, pcm = _read(ROOT / rel)
        # bit for bit on the machine that built them; at most one LSB apart where float rounding differs
        assert np.abs(assets_build.to_pcm16(x).astype(np.int32) - pcm).max() <= 1, rel


def test_the_speaker_split_does_not_depend_on_the_build_seed_or_the_installed_voices():
    meta = json.loads((ROOT / "index.json").read_text())
    split = assets_build.split_speakers(split_seed=meta["split_seed"])
    for r in INDEX:
        if r["class"] != "background":
            assert split[r["speaker"]] == r["split"], r["speaker"]
    assert assets_build.split_speakers(["cmu:new"], 0)["espeak:m3"] == split["espeak:m3"]


def test_word_lists_have_no_duplicates_and_no_overlap():
    assert len(set(ORDINARY_WORDS)) == len(ORDINARY_WORDS)
    assert len(set(HARD_NEGATIVES)) == len(HARD_NEGATIVES) == 15
    assert not set(ORDINARY_WORDS) & set(HARD_NEGATIVES)
