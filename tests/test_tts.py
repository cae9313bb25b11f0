"""The TTS pipeline, where the Debian engines are installed (``.ci/run`` installs them as root).

Marked ``tts``; each test skips with the reason when an engine it needs is missing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io.wavfile

from twd_lab import assets_build, assets_index, tts

pytestmark = pytest.mark.tts

HAVE = tts.engines_available()
INSTALL = "apt-get install espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"


def need(*engines: str) -> None:
    missing = [e for e in engines if not HAVE[e]]
    if missing:
        pytest.skip(f"TTS engine(s) {', '.join(missing)} not installed ({INSTALL})")


def first_voice(engine: str) -> tts.Voice:
    return next(v for v in tts.all_voices([engine]))


@pytest.mark.parametrize("engine", tts.ENGINES)
def test_each_engine_renders_a_trimmed_normalised_word(engine):
    need(engine)
    voices = tts.all_voices([engine])
    if not voices:
        pytest.skip(f"{engine} is installed but none of its voices are")
    clip = tts.render("activate", voices[0], speed=1.1, pitch=0.9)
    assert clip.dtype == np.float32 and clip.ndim == 1
    assert 0.3 <= len(clip) / tts.TTS_SAMPLE_RATE <= 1.6
    assert tts.active_dbfs(clip, tts.TTS_SAMPLE_RATE) == pytest.approx(tts.CLIP_DBFS, abs=2.5)
    assert np.abs(clip).max() <= 10 ** (tts.PEAK_DBFS / 20) + 1e-6


@pytest.mark.parametrize("engine", tts.ENGINES)
def test_each_engine_is_deterministic(engine):
    need(engine)
    voices = tts.all_voices([engine])
    if not voices:
        pytest.skip(f"{engine} is installed but none of its voices are")
    a = tts.render("Activate!", voices[-1], speed=0.9, pitch=1.2)
    b = tts.render("Activate!", voices[-1], speed=0.9, pitch=1.2)
    np.testing.assert_array_equal(a, b)


def test_speed_makes_words_shorter():
    need("espeak-ng")
    v = tts.Voice("espeak-ng", "en-us")
    slow = tts.render("navigate", v, speed=0.8)
    fast = tts.render("navigate", v, speed=1.3)
    assert len(fast) < 0.85 * len(slow)


def test_render_many_keeps_the_order_across_engines():
    need("espeak-ng", "flite")
    reqs = [
        tts.Request("table", tts.Voice("flite", "slt")),
        tts.Request("window", tts.Voice("espeak-ng", "en-gb-scotland+f2")),
        tts.Request("table", tts.Voice("flite", "slt")),
    ]
    a, b, c = tts.render_many(reqs)
    np.testing.assert_array_equal(a, c)
    assert not (len(a) == len(b) and np.array_equal(a, b))


def test_bad_requests_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="engine"):
        tts.Voice("say", "alex")
    with pytest.raises(ValueError, match="text"):
        tts.render_many([tts.Request("  ", tts.Voice("espeak-ng", "en"))])
    with pytest.raises(ValueError, match="speed"):
        tts.render_many([tts.Request("hi", tts.Voice("espeak-ng", "en"), speed=9)])


def test_a_small_build_is_bit_for_bit_reproducible(tmp_path):
    need("espeak-ng", "flite", "festival")
    kw = {"n_activates": 8, "n_negatives": 12, "log": None}
    assets_build.build_assets(tmp_path / "a", 3, **kw)
    assets_build.build_assets(tmp_path / "b", 3, **kw)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    # and it is a complete lab-style folder with both splits
    for split in ("train", "heldout"):
        for sub in ("activates", "negatives", "backgrounds"):
            assert list((tmp_path / "a" / "raw" / split / sub).glob("*.wav")), (split, sub)


def test_the_committed_assets_are_what_the_script_makes():
    need("espeak-ng", "flite", "festival")
    meta = json.loads((assets_index.bundled_dir() / "index.json").read_text())
    if {e: tts.engine_versions()[e] for e in meta["engines"]} != meta["engines"]:
        pytest.skip(f"engine versions differ from the committed build's: {meta['engines']}")
    words = [r for r in meta["clips"] if r["class"] != "background"]
    n_act = sum(r["class"] == "activate" for r in words)
    plan = assets_build.plan_clips(
        assets_build.index_voices(meta),
        meta["seed"],
        n_activates=n_act,
        n_negatives=len(words) - n_act,
        split_seed=meta["split_seed"],
    )
    keys = ("class", "voice", "speaker", "engine", "text", "speed", "pitch", "split")
    assert [{k: r[k] for k in keys} for r in plan] == [{k: r[k] for k in keys} for r in words]
    installed = {v.id for v in tts.all_voices()}
    # re-render a sample: every engine, both classes (voices that are installed here)
    sample = []
    for engine in ("espeak-ng", "flite", "festival"):
        for cls in ("activate", "negative"):
            sample += [
                r for r in words if r["engine"] == engine and r["class"] == cls and r["voice"] in installed
            ][:2]
    if not sample:
        pytest.skip(f"none of the committed build's voices is installed ({INSTALL})")
    clips = assets_build.render_records(sample, sample_rate=meta["sample_rate"])
    for rec, clip in zip(sample, clips):
        _, stored = scipy.io.wavfile.read(assets_index.bundled_dir() / rec["file"])
        np.testing.assert_array_equal(assets_build.to_pcm16(clip), stored, err_msg=rec["file"])
