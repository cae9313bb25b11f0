"""LiveDetector without a browser: PCM bytes through its message handler, triggers and takes out."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import skip_without_embedding_detector
from live_words import to_pcm16, words_with_pauses

pytest.importorskip("anywidget")

from twd_lab.constants import SAMPLE_RATE
from twd_lab.widgets._anywidget import JS_DIR, esm
from twd_lab.widgets.live_session import next_free_path, pcm16_to_float


@pytest.fixture(scope="module")
def live():
    skip_without_embedding_detector()
    from twd_lab.widgets import LiveDetector

    return LiveDetector("embedding", takes_dir=None)


def say(widget, audio, sample_rate=48_000, chunk_s=0.1):
    """Send ``audio`` (44.1 kHz float) as the browser would: 16-bit PCM at ``sample_rate`` in chunks."""
    from scipy.signal import resample_poly

    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    x = audio if sample_rate == SAMPLE_RATE else resample_poly(audio, sample_rate // 300, SAMPLE_RATE // 300)
    pcm = to_pcm16(x)
    widget.handle_message({"kind": "start", "sample_rate": sample_rate})
    n = round(chunk_s * sample_rate)
    for seq, a in enumerate(range(0, pcm.size, n)):
        widget.handle_message({"kind": "pcm", "seq": seq}, [memoryview(pcm[a : a + n].tobytes())])
    widget.handle_message({"kind": "stop"})
    return sent


def test_pcm_chunks_fire_on_each_activate_and_not_on_other_words(live):
    audio, ends, others = words_with_pauses(3, 3)
    sent = say(live, audio)
    times = [t["time_s"] for t in live.triggers]
    assert len(times) == len(ends), (times, ends)
    for end, t in zip(ends, times):
        assert end - 0.3 <= t <= end + 1.5
    assert not [t for t in times for a, b in others if a <= t <= b + 1.0]  # nothing on the other words
    assert not live.running
    # probabilities went back to the browser as float32 buffers, with their times, in order
    probs = [c for c, _ in sent if c["kind"] == "probs"]
    assert probs and [c["seq"] for c in probs] == sorted(c["seq"] for c in probs)
    p = np.concatenate([np.frombuffer(b[0], "<f4") for c, b in sent if c["kind"] == "probs"])
    t = np.concatenate([np.frombuffer(b[1], "<f4") for c, b in sent if c["kind"] == "probs"])
    assert p.size == t.size and np.all(np.diff(t) > 0) and p.max() > live.threshold
    assert sum(len(c["fired"]) for c in probs) == len(ends)


def test_a_higher_threshold_set_from_the_browser_fires_less(live):
    audio, ends, _ = words_with_pauses(3, 0)
    live.threshold = 0.999999
    try:
        say(live, audio, sample_rate=44_100, chunk_s=0.05)
        assert live.triggers == []
    finally:
        live.threshold = live.detector.rule.threshold
    say(live, audio, sample_rate=44_100, chunk_s=0.05)
    assert len(live.triggers) == len(ends)


def test_rule_controls_are_validated_naming_the_argument(live):
    from traitlets import TraitError

    with pytest.raises((ValueError, TraitError), match="patience"):
        live.patience = 0
    live.patience = live.detector.rule.patience


def test_keep_this_take_saves_an_array_and_a_wav_never_over_a_file(live, tmp_path):
    from twd_lab.audio import read_wav

    audio, _, _ = words_with_pauses(1, 1)
    live.takes_dir = tmp_path
    (tmp_path / "take_001.wav").write_bytes(b"mine")
    try:
        say(live, audio, sample_rate=48_000)
        live.handle_message({"kind": "keep"})
    finally:
        live.takes_dir = None
    assert (tmp_path / "take_001.wav").read_bytes() == b"mine"
    assert live.take_paths[-1] == tmp_path / "take_002.wav" and live.n_takes == len(live.takes)
    kept = live.takes[-1]
    assert abs(kept.size - audio.size) <= 2  # 48 kHz back to 44.1 kHz
    np.testing.assert_allclose(read_wav(tmp_path / "take_002.wav"), kept, atol=2e-3)
    lag = np.argmax(np.correlate(kept[: 3 * SAMPLE_RATE], audio[: 2 * SAMPLE_RATE], "valid"))
    assert lag <= 2


def test_a_pcm_message_without_its_buffer_is_refused_in_words(live):
    with pytest.raises(ValueError, match="binary buffer"):
        live.handle_message({"kind": "pcm", "seq": 0}, [])
    assert live.message.startswith("error:")


def test_pcm16_to_float_reads_little_endian_int16_and_refuses_half_samples():
    x = pcm16_to_float(np.array([0, 16384, -32768, 32767], "<i2").tobytes())
    np.testing.assert_allclose(x, [0, 0.5, -1, 32767 / 32768])
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm16_to_float(b"\x00\x01\x02")


def test_next_free_path_skips_existing_takes(tmp_path):
    (tmp_path / "take_001.wav").touch()
    assert next_free_path(tmp_path) == tmp_path / "take_002.wav"


def test_an_unknown_detector_is_refused_naming_the_choices():
    from twd_lab.widgets import LiveDetector

    with pytest.raises(ValueError, match="detector must be"):
        LiveDetector("whisper")


def test_the_browser_code_ships_as_files_and_fetches_nothing():
    names = {p.name for p in JS_DIR.glob("*.js")}
    assert {"_common.js", "live_detector.js", "pcm_worklet.js"} <= names
    for name in names - {"_common.js"}:
        src = esm(name)
        # no import a front end would have to resolve, no URL loaded, nothing fetched
        assert not re.search(r"\bimport\s*[({*\w\"']|\bfetch\s*\(|src\s*=\s*[\"']https?:", src), name


def test_the_live_detector_with_the_embedding_detector_loads_no_tensorflow():
    import subprocess
    import sys

    skip_without_embedding_detector()
    code = (
        "import sys; from twd_lab.widgets import LiveDetector, AudioPlayer; LiveDetector('embedding'); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_switching_detector_while_listening_keeps_the_browsers_sample_rate(live):
    live.handle_message({"kind": "start", "sample_rate": 48_000})
    try:
        live._use_detector("embedding")  # what a change of detector_name does (without loading TensorFlow)
        assert live.session.sample_rate == 48_000 and live.running
    finally:
        live.handle_message({"kind": "stop"})
