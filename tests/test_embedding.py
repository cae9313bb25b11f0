"""The speech-embedding front end (twd_lab.embedding) and its Keras head (twd_lab.embedding_detector)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twd_lab import embedding as E
from twd_lab import embedding_detector as D

ROOT = Path(__file__).resolve().parents[1]

HAVE_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "openwakeword"))
needs_onnx = pytest.mark.skipif(
    not HAVE_ONNX, reason='needs onnxruntime and openwakeword: pip install "twd-lab[embedding]"'
)


def _noise(seconds: float, rate: int = 44_100, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, int(seconds * rate)).astype(np.float32)


# --- front end -------------------------------------------------------------------------------------


def test_importing_twd_lab_does_not_import_onnxruntime_or_keras():
    code = (
        "import sys, twd_lab, twd_lab.embedding, twd_lab.embedding_detector; "
        "print('onnxruntime' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_onnxruntime_raises_error_naming_the_extra(monkeypatch):
    E._sessions.cache_clear()
    E._shipped_sessions.cache_clear()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    try:
        with pytest.raises(ImportError, match=r"twd-lab\[embedding\]"):
            E.embeddings(_noise(1.0), 44_100)
    finally:
        E._sessions.cache_clear()
        E._shipped_sessions.cache_clear()


def test_step_count_and_times_follow_the_models_framing():
    assert E.n_steps(E.MIN_SAMPLES - 1) == 0
    assert E.n_steps(E.MIN_SAMPLES) == 1
    assert E.n_steps(160_000) == 116  # a lab clip: 10 s at 16 kHz
    t = E.step_times(3)
    np.testing.assert_allclose(t, [0.782, 0.862, 0.942])


@needs_onnx
def test_embeddings_of_a_lab_clip_have_116_steps_of_96_every_80_ms():
    emb, times = E.embeddings(_noise(10.0), 44_100)
    assert emb.shape == (116, 96) and emb.dtype == np.float32
    assert times.shape == (116,)
    np.testing.assert_allclose(np.diff(times), E.EMBEDDING_STEP_S)
    assert times[-1] <= 10.0
    assert np.all(np.isfinite(emb))


@needs_onnx
def test_embeddings_are_deterministic_and_batch_matches_single():
    x = _noise(2.0, seed=1)
    a, _ = E.embeddings(x, 44_100)
    b, _ = E.embeddings(x.copy(), 44_100)
    np.testing.assert_array_equal(a, b)
    (c,) = E.embeddings_batch([x], 44_100)
    np.testing.assert_array_equal(a, c)


@needs_onnx
@pytest.mark.parametrize("n_frames", [76, 83, 84, 91, 100, 76 + 8 * 64, 76 + 8 * 64 + 5, 1_503])
def test_sliding_embedding_model_gives_each_windows_numbers(n_frames):
    """The time axis opened: one call over many windows equals the shipped model window by window, at
    lengths around a window, a call's worth of windows (64), and the remainders between."""
    _, windowed, sliding = E._sessions()
    assert sliding is not None, "the onnx package is installed, so the sliding model should load"
    x = _noise(n_frames * 0.01 + 0.1, rate=16_000, seed=n_frames)
    x[: len(x) // 3] *= 0.01  # quiet then loud, so the frames are not stationary
    frames = E.mel_frames(x)[:n_frames]
    slid = E._embed_sliding(sliding, frames)
    assert slid.shape == ((n_frames - 76) // 8 + 1, 96)
    np.testing.assert_allclose(slid, E._embed_windows(windowed, frames), atol=1e-5, rtol=0)


@needs_onnx
@pytest.mark.parametrize("staged", [True, False])
def test_frame_embedder_fed_in_pieces_gives_the_whole_pass(staged):
    """Stage by stage (each layer once per frame) or, without onnx, window by window: the same vectors
    as embed_frames on all the frames, whatever the pieces, holding only a few steps."""
    frames = E.mel_frames(_noise(9.0, rate=16_000, seed=4))
    embedder = E.FrameEmbedder(None if staged else [])
    if not staged:
        embedder._stages = None
    else:
        assert embedder._stages is not None, "onnx is installed, so the stages should load"
    rng = np.random.default_rng(5)
    cuts = np.cumsum(rng.integers(1, 40, size=len(frames)))
    pieces = np.split(frames, cuts[cuts < len(frames)])
    out = [embedder.feed(p) for p in pieces]
    assert embedder.buffered < E.WINDOW_FRAMES
    np.testing.assert_allclose(np.concatenate(out), E.embed_frames(frames), atol=1e-5, rtol=0)


@needs_onnx
def test_without_onnx_the_windows_are_embedded_one_by_one(monkeypatch):
    x = _noise(3.0, seed=2)
    fast, _ = E.embeddings(x, 44_100)
    E._sessions.cache_clear()
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    try:
        assert E._sessions()[2] is None
        slow, _ = E.embeddings(x, 44_100)
    finally:
        E._sessions.cache_clear()
    np.testing.assert_allclose(fast, slow, atol=1e-5, rtol=0)


@needs_onnx
def test_16k_and_int16_input_are_accepted_and_short_audio_gives_no_steps():
    x16 = _noise(1.0, rate=16_000)
    emb, _ = E.embeddings(x16, 16_000)
    assert emb.shape == (E.n_steps(16_000), 96) == (3, 96)
    as_int = (x16 * 32767).astype(np.int16)
    np.testing.assert_allclose(E.embeddings(as_int, 16_000)[0], emb, atol=1e-2)
    short, short_t = E.embeddings(_noise(0.5), 44_100)
    assert short.shape == (0, 96) and short_t.shape == (0,)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="samples must be 1-D"):
        E.embeddings(np.zeros((2, 100), np.float32), 44_100)
    with pytest.raises(ValueError, match="sample_rate"):
        E.embeddings(np.zeros(100, np.float32), 0)


# --- labels and windows ----------------------------------------------------------------------------


def test_steps_just_after_a_word_end_are_positive_and_the_margin_is_ignored():
    times = np.array([1.0, 1.9, 2.0, 2.3, 2.5, 2.8, 3.1])
    labels, weights = D.step_labels(times, [2.0], positive_s=(0.0, 0.5), ignore_s=(-0.2, 1.0))
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(weights, [1, 0, 1, 1, 1, 0, 1])


def test_history_windows_give_one_window_per_step_padded_with_the_first():
    emb = np.arange(5 * 96, dtype=np.float32).reshape(5, 96)
    w = D.history_windows(emb, history=3)
    assert w.shape == (5, 3, 96)
    np.testing.assert_array_equal(w[0], emb[[0, 0, 0]])
    np.testing.assert_array_equal(w[4], emb[[2, 3, 4]])
    with pytest.raises(ValueError, match="emb must have shape"):
        D.history_windows(np.zeros((4, 5)), 3)


def test_training_arrays_keep_only_weighted_steps():
    clips = D.EmbeddedClips(np.zeros((2, 116, 96), np.float32), [[3.0], []])
    X, y, w = D.training_arrays(clips, history=4)
    assert X.shape[1:] == (4, 96) and len(X) == len(y) == len(w)
    assert 0 < y.sum() < len(y) and np.all(w > 0)


def test_window_table_gives_each_clips_windows_without_leaking_across_clips():
    rng = np.random.default_rng(0)
    embs = [rng.normal(size=(n, 96)).astype(np.float32) for n in (5, 0, 7)]
    table = D.WindowTable(embs, history=3)
    for i, emb in enumerate(embs):
        np.testing.assert_array_equal(table[table.clip_rows(i)], D.history_windows(emb, 3))
    # clip 2's first window is its first embedding repeated, not clip 0's last ones
    np.testing.assert_array_equal(table[table.clip_rows(2)[0]], embs[2][[0, 0, 0]])
    assert len(table.clip_rows(0, 3)) == 12
    with pytest.raises(ValueError, match=r"embs\[1\] must have shape \(n_steps, 96\)"):
        D.WindowTable([embs[0], np.zeros((4, 5))], history=3)


def test_training_rows_pick_the_windows_training_arrays_copy():
    rng = np.random.default_rng(1)
    clips = D.EmbeddedClips(rng.normal(size=(3, 60, 96)).astype(np.float32), [[2.0], [], [1.0, 4.0]])
    X, y, w = D.training_arrays(clips, history=4)
    table = D.WindowTable(list(clips.emb), 4)
    rows, y2, w2 = D.training_rows(table, clips)
    np.testing.assert_array_equal(table[rows], X)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(w2, w)


# --- the head --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_tiny_head_learns_a_separable_signal():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4, 96)).astype(np.float32)
    y = (rng.random(600) < 0.2).astype(np.float32)
    X[y > 0, -1, :16] += 2.0
    head = D.build_head(4, dropout=0.0)
    D.train_head(head, X, y, epochs=15, batch_size=64, seed=0)
    acc = np.mean((D.predict_windows(head, X) > 0.5) == (y > 0.5))
    assert acc > 0.95


@pytest.mark.slow
def test_train_head_on_rows_of_a_table_learns_only_from_those_rows():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(900, 96)).astype(np.float32)
    emb[::3, :16] += 3.0  # every third step carries the signal
    table = D.WindowTable([emb], history=2)
    rows = np.arange(0, 900, 2)  # half the windows train; the others are left for the check
    y = (rows % 3 == 0).astype(np.float32)
    head = D.build_head(2, dropout=0.0)
    D.train_head(head, table, y, rows=rows, epochs=15, batch_size=64, seed=0)
    held = np.arange(1, 900, 2)
    acc = np.mean((D.predict_windows(head, table[held]) > 0.5) == (held % 3 == 0))
    assert acc > 0.95
    with pytest.raises(ValueError, match="rows and y must have the same length"):
        D.train_head(head, table, y[:-1], rows=rows)


@pytest.mark.slow
def test_averaged_heads_give_the_mean_of_their_members():
    heads = [D.build_head(4, units=8) for _ in range(3)]
    model = D.average_heads(heads)
    x = np.random.default_rng(0).normal(size=(7, 4, 96)).astype(np.float32)
    expected = np.mean([D.predict_windows(h, x) for h in heads], axis=0)
    np.testing.assert_allclose(D.predict_windows(model, x), expected, atol=1e-6)


@pytest.mark.slow
def test_fit_heads_mines_hard_negatives_from_audio_without_the_word():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 40, 96)).astype(np.float32)
    ends = [[1.5], [], [2.0], [], [1.0], []]
    negatives = D.EmbeddedClips(rng.normal(size=(2, 40, 96)).astype(np.float32), [[], []])
    model, info = D.fit_heads(
        D.EmbeddedClips(emb, ends),
        negatives,
        members=2,
        history=4,
        units=8,
        epochs=2,
        hard_negative_threshold=0.0,
    )
    assert info["hard_negative_windows"] == 2 * 40  # every window is above a threshold of 0
    assert info["positive_windows"] > 0
    assert D.predict_windows(model, D.history_windows(emb[0], 4)).shape == (40,)


@pytest.mark.slow
def test_hard_negative_windows_are_the_windows_above_threshold_however_they_are_chunked():
    rng = np.random.default_rng(1)
    clips = D.EmbeddedClips(rng.normal(size=(5, 30, 96)).astype(np.float32), [[]] * 5)
    head = D.build_head(4, units=8)
    probs = np.concatenate([D.predict_windows(head, D.history_windows(e, 4)) for e in clips.emb])
    threshold = float(np.median(probs))
    expected = np.concatenate([D.history_windows(e, 4) for e in clips.emb])[probs > threshold]
    for chunk in (1, 2, 200):
        got = D.hard_negative_windows(head, clips, history=4, threshold=threshold, chunk=chunk)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_fit_heads_gathers_windows_a_batch_at_a_time(monkeypatch):
    asked = []
    getitem = D.WindowTable.__getitem__

    def counting(self, rows):
        asked.append(len(np.atleast_1d(np.arange(len(self))[rows])))
        return getitem(self, rows)

    monkeypatch.setattr(D.WindowTable, "__getitem__", counting)
    rng = np.random.default_rng(0)
    clips = D.EmbeddedClips(rng.normal(size=(8, 120, 96)).astype(np.float32), [[1.5], []] * 4)
    negatives = D.EmbeddedClips(rng.normal(size=(4, 120, 96)).astype(np.float32), [[]] * 4)
    D.fit_heads(clips, negatives, members=1, history=4, units=8, epochs=2, hard_negative_threshold=0.0)
    # training asks for a batch (256) at a time, and mining for the negatives' 480 windows; never all
    # 1,440 windows at once: memory follows the embeddings, not the 16x larger windows
    assert set(asked) - set(range(1, 257)) == {4 * 120}
    assert sum(1 for n in asked if n <= 256) > 10


@pytest.mark.slow
def test_detector_saves_and_loads_with_its_settings(tmp_path):
    head = D.build_head(4, units=8, layers=1)
    det = D.EmbeddingDetector(head, D.DetectorConfig(history=4, threshold=0.7, refractory_s=0.5))
    path = tmp_path / "head.keras"
    det.save(path)
    again = D.EmbeddingDetector.load(path)
    assert again.config == det.config
    emb = np.random.default_rng(0).normal(size=(20, 96)).astype(np.float32)
    p1, t1 = det.probabilities_from_embeddings(emb)
    p2, t2 = again.probabilities_from_embeddings(emb)
    np.testing.assert_allclose(p1, p2, rtol=1e-6)
    np.testing.assert_array_equal(t1, t2)
    with pytest.raises(ValueError, match=r"\.keras"):
        det.save(tmp_path / "head.h5")


def test_a_head_path_that_is_not_there_is_a_typo_not_a_head_to_train(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"hed\.keras does not exist$"):
        D.EmbeddingDetector.load(tmp_path / "hed.keras")
    with pytest.raises(FileNotFoundError, match="is a folder, not a .keras file"):
        D.EmbeddingDetector.load(tmp_path)
    from twd_lab.detectors import embedding

    monkeypatch.setattr(embedding, "default_head_path", lambda: tmp_path / "gone.keras")
    with pytest.raises(FileNotFoundError, match="bundled embedding head .* rebuild it with") as missing:
        D.EmbeddingDetector.load()
    assert embedding.SHIPPED_HEAD_COMMAND in str(missing.value)


def test_the_missing_head_message_gives_the_command_that_made_the_bundled_head():
    """The command a user is told to run is the one the shipped head's notes and README's rebuild line hold,
    not a bare one that would build a different (words-only) head."""
    from twd_lab.detectors.embedding import SHIPPED_HEAD_COMMAND

    notes = json.loads((ROOT / "assets" / "embedding_head.json").read_text())["notes"]
    assert notes["command"] == SHIPPED_HEAD_COMMAND
    readme = " ".join((ROOT / "README.md").read_text().replace("\\\n", " ").split())
    assert SHIPPED_HEAD_COMMAND in readme


def test_firing_respects_threshold_and_refractory_in_seconds():
    det = D.EmbeddingDetector(None, D.DetectorConfig(threshold=0.5, patience=1, refractory_s=0.4))
    probs = np.array([0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1])  # refractory 0.4 s = 5 steps
    np.testing.assert_array_equal(det.trigger_steps(probs), [1, 6])
    np.testing.assert_array_equal(det.trigger_steps(probs, threshold=0.95), [])


@pytest.mark.slow
@needs_onnx
def test_detector_gives_one_probability_per_embedding_step():
    det = D.EmbeddingDetector(D.build_head(units=8, layers=1))
    probs, times = det.probabilities(_noise(3.0), 44_100)
    assert probs.shape == times.shape == (E.n_steps(48_000),)
    assert np.all((probs >= 0) & (probs <= 1))
    fired = det.triggers(_noise(3.0), 44_100, threshold=0.0)
    assert fired and all(0 <= t.score <= 1 and t.time_s in set(times.round(4)) for t in fired)


@pytest.mark.slow
def test_bench_head_memory_trains_the_same_windows_both_ways():
    from conftest import ROOT

    path = ROOT / "benchmarks" / "bench_head_memory.py"
    spec = importlib.util.spec_from_file_location("bench_head_memory", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    table, array = (bench._child(way, clips=6, seed=0) for way in ("table", "array"))
    assert table["windows"] == array["windows"] > 0
    assert table["embeddings_mb"] == array["embeddings_mb"] > 0 and table["peak_rss_mb"] > 0
