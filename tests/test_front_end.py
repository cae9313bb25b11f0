"""A tuned front end: the embedding's top in Keras (twd_lab.front_end_tuning), its weights swapped into the
ONNX model (onnx_sliding.with_weights), and a detector whose head names one (detectors.embedding)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from twd_lab import embedding_detector as D
from twd_lab.detectors import onnx_sliding
from twd_lab.detectors import speech_embedding as E
from twd_lab.talk_eval import front_end_tag

HAVE_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "openwakeword", "onnx"))
pytestmark = pytest.mark.skipif(
    not HAVE_ONNX, reason='needs onnxruntime, onnx and openwakeword: pip install "twd-lab[embedding]"'
)


def _frames(windows: int = 20, seed: int = 0) -> np.ndarray:
    """Scaled mel frames in the model's range, for ``windows`` embedding steps."""
    n = E.WINDOW_FRAMES + (windows - 1) * E.WINDOW_STRIDE
    return np.random.default_rng(seed).uniform(-1, 3, (n, E.N_MELS)).astype(np.float32)


@pytest.fixture(scope="module")
def F():
    pytest.importorskip("keras")
    from twd_lab import front_end_tuning

    return front_end_tuning


@pytest.fixture(scope="module")
def shifted_front_end(F, tmp_path_factory):
    """A front end whose top differs from the shipped one (every kernel scaled, biases moved)."""
    top = F.build_top()
    for layer, _, bias in top.convs:
        w = layer.get_weights()
        layer.set_weights([w[0] * 1.1] + ([w[1] + 0.05] if bias else []))
    return top, top.save(tmp_path_factory.mktemp("front") / "front.npz")


def test_the_keras_top_over_the_frozen_stages_gives_the_shipped_embeddings(F):
    frames = _frames(20)
    below = F.FrozenStages()(frames)
    assert below.shape[1:] == (F.BELOW_BANDS, F.BELOW_CHANNELS)
    top = F.build_top()
    emb = np.asarray(top.model(below[None]))[0]
    expected = E.embed_frames(frames)
    assert emb.shape == expected.shape == (20, 96)
    np.testing.assert_allclose(emb, expected, atol=2e-3 * np.abs(expected).max())


def test_the_top_holds_the_models_weights_named_as_the_model_names_them(F):
    weights = F.build_top().weights()
    assert sum(w.size for w in weights.values()) == 242_688
    assert all(name.startswith("model/conv2d_") for name in weights)


def test_swapped_weights_change_the_embeddings_as_the_keras_top_says(F, shifted_front_end):
    top, path = shifted_front_end
    frames = _frames(12, seed=1)
    tuned = E.embed_frames(frames, path)
    keras_says = np.asarray(top.model(F.FrozenStages()(frames)[None]))[0]
    np.testing.assert_allclose(tuned, keras_says, atol=2e-3 * np.abs(tuned).max())
    assert not np.allclose(tuned, E.embed_frames(frames), atol=1e-2)


def test_a_stream_of_a_tuned_front_end_gives_its_clip_embeddings(shifted_front_end):
    _, path = shifted_front_end
    frames = _frames(30, seed=2)
    embedder = E.FrameEmbedder(front_end=path)
    streamed = np.concatenate([embedder.feed(p) for p in np.split(frames, [7, 90, 91, 200])])
    np.testing.assert_allclose(streamed, E.embed_frames(frames, path), atol=1e-4)


def test_bad_front_end_files_are_refused_by_name(tmp_path):
    model = E.model_files()["embedding"]
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        onnx_sliding.with_weights(model, tmp_path / "nope.npz")
    np.savez(tmp_path / "stranger.npz", **{"not/a/weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="not a weight of the embedding model"):
        onnx_sliding.with_weights(model, tmp_path / "stranger.npz")
    np.savez(tmp_path / "shape.npz", **{"model/conv2d_12/Conv2D_bias_fused_bn": np.zeros(5, np.float32)})
    with pytest.raises(ValueError, match=r"shape \(5,\), expected \(96,\)"):
        onnx_sliding.with_weights(model, tmp_path / "shape.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a .npz of weights"):
        onnx_sliding.with_weights(model, tmp_path / "text.npz")


def _two_member_head(history=16, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    heads = [D.build_head(history, units=8, input_dropout=0.3) for _ in range(2)]
    return D.average_heads(heads)


def test_the_head_over_time_scores_every_full_window_as_the_head_does(F):
    head = _two_member_head()
    emb = np.random.default_rng(3).normal(0, 10, (40, 96)).astype(np.float32)
    over_time = np.asarray(F.head_over_time(head, 16)(emb[None], training=False))[0, :, 0]
    windows = D.history_windows(emb, 16)[15:]
    np.testing.assert_allclose(over_time, D.predict_windows(head, windows), atol=1e-5)
    back = F.head_from_time(F.head_over_time(head, 16), 16)
    np.testing.assert_allclose(D.predict_windows(back, windows), D.predict_windows(head, windows), atol=1e-6)


def test_targets_are_the_step_labels_of_full_windows(F):
    y, w = F.targets([[3.0], []], 116, 16)
    assert y.shape == w.shape == (2, 101)
    times = E.step_times(116)[15:]
    assert set(np.round(times[y[0] > 0.5] - 3.0, 2)) <= set(np.round(np.arange(0.3, 0.81, 0.01), 2))
    assert y[1].sum() == 0 and w[1].min() == 1


def test_tuning_on_a_few_clips_moves_the_top_and_keeps_shapes(F):
    frames = [_frames(116, seed=s) for s in range(4)]
    below = np.stack([F.FrozenStages()(f) for f in frames]).astype(np.float16)
    y, w = F.targets([[4.0], [], [6.5], []], 116, 16)
    top, head, info = F.tune(
        below, y, w, _two_member_head(), history=16, epochs=2, rounds=2, batch_size=2, verbose=0
    )
    assert info["clips"] == 4 and len(info["loss"]) == 2 and np.isfinite(info["loss"]).all()
    assert len(info["hard_negative_windows"]) == 2
    moved = [not np.allclose(v, F.build_top().weights()[k]) for k, v in top.weights().items()]
    assert any(moved)
    assert tuple(head.input_shape[1:]) == (16, 96)
    with pytest.raises(ValueError, match="below must have shape"):
        F.tune(below[:, :, :2], y, w, head, history=16, epochs=1)
    with pytest.raises(ValueError, match="y and w must be"):
        F.tune(below, y[:2], w[:2], head, history=16, epochs=1)
    with pytest.raises(ValueError, match=r"rounds must be between 1 and epochs \(2\), got 3"):
        F.tune(below, y, w, head, history=16, epochs=2, rounds=3)


def test_a_detector_saves_loads_and_hears_through_its_front_end(F, shifted_front_end, tmp_path):
    _, front = shifted_front_end
    config = D.DetectorConfig(threshold=0.5)
    det = D.EmbeddingDetector(_two_member_head(), config, front_end=front)
    det.save(tmp_path / "head.keras")
    saved = json.loads((tmp_path / "head.json").read_text())
    assert saved["front_end"] == "head.front.npz" and (tmp_path / "head.front.npz").is_file()

    loaded = D.EmbeddingDetector.load(tmp_path / "head.keras")
    assert loaded.front_end == tmp_path / "head.front.npz"
    audio = np.random.default_rng(5).normal(0, 0.05, 44_100 * 4).astype(np.float32)
    probs, _ = loaded.probabilities(audio, 44_100)
    heard = E.embeddings(audio, 44_100, front_end=front)[0]
    np.testing.assert_array_equal(loaded.embed(audio, 44_100), heard)
    expected = D.predict_windows(det.head, D.history_windows(heard))
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    plain = D.EmbeddingDetector(det.head, config)
    assert not np.allclose(probs, plain.probabilities(audio, 44_100)[0], atol=1e-4)
    # a stream hears the same as the clip pass
    stream = loaded.stream()
    streamed = np.concatenate([stream.feed(c)[0] for c in np.array_split(audio, 7)])
    np.testing.assert_allclose(streamed, probs[: len(streamed)], atol=1e-4)


def test_a_head_whose_front_end_is_missing_is_refused(shifted_front_end, tmp_path):
    _, front = shifted_front_end
    D.EmbeddingDetector(_two_member_head(), D.DetectorConfig(), front_end=front).save(tmp_path / "h.keras")
    (tmp_path / "h.front.npz").unlink()
    with pytest.raises(FileNotFoundError, match="names the front end 'h.front.npz'"):
        D.EmbeddingDetector.load(tmp_path / "h.keras")
    with pytest.raises(FileNotFoundError, match="front_end"):
        D.EmbeddingDetector(None, D.DetectorConfig(), front_end=tmp_path / "gone.npz")


def test_clip_mel_frames_are_what_the_embeddings_are_made_of():
    audio = np.random.default_rng(6).normal(0, 0.05, 44_100 * 2).astype(np.float32)
    frames = D.clip_mel_frames(audio)
    assert frames.dtype == np.float16 and frames.shape[1] == 32
    np.testing.assert_allclose(
        E.embed_frames(frames.astype(np.float32)), E.embeddings(audio, 44_100)[0], atol=0.05 * 50
    )


def test_caches_of_two_front_ends_are_named_apart(shifted_front_end, tmp_path):
    from twd_lab.talk_eval import front_end_tag

    _, front = shifted_front_end
    other = tmp_path / "other.npz"
    with np.load(front) as f:
        np.savez(other, **{k: f[k] * 0.5 for k in f.files})
    assert front_end_tag(None) == ""
    assert front_end_tag(front).startswith("_fe") and len(front_end_tag(front)) == 11
    assert front_end_tag(front) == front_end_tag(front)
    assert front_end_tag(front) != front_end_tag(other)


def test_the_tool_tunes_a_head_and_writes_its_front_end_beside_it(F, shifted_front_end, tmp_path):
    from conftest import load_tool

    tool = load_tool("tune_front_end")
    start = tmp_path / "start.keras"
    D.EmbeddingDetector(_two_member_head(), D.DetectorConfig(threshold=0.9)).save(start)
    none = ["--plain", "0", "--hard-negatives", "0", "--confusables", "0", "--noisy", "0"]
    none += ["--noisy-mining", "0", "--talk", "0", "--talk-words", "0", "--talk-mining", "0"]
    out = tmp_path / "tuned" / "head.keras"
    argv = ["--head", str(start), "--augmented", "3", *none, "--epochs", "1", "--cache", str(tmp_path / "c")]
    assert tool.main([*argv, "--out", str(out)]) == 0
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["front_end"] == "head.front.npz" and saved["threshold"] == 0.9
    assert saved["notes"]["clips"] == 3 and saved["notes"]["started_from"] == str(start)
    tuned = D.EmbeddingDetector.load(out)
    assert tuned.front_end == out.parent / "head.front.npz"
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1  # the clips' mel frames, cached for the next run
    for bad in (tmp_path / "head.h5", start):  # not a .keras; the head it starts from
        with pytest.raises(SystemExit):
            tool.main([*argv, "--out", str(bad)])
    assert D.EmbeddingDetector.load(start).front_end is None


def _raw(seed: int = 0):
    """A tiny lab raw set (activates, negatives, backgrounds) of noise bursts, 44.1 kHz."""
    rng = np.random.default_rng(seed)
    word = [(0.1 * rng.standard_normal(22_050)).astype(np.float32) for _ in range(3)]
    room = [(0.05 * rng.standard_normal(441_000)).astype(np.float32)]
    return word[:2], word[2:], room


def test_distillation_pairs_are_the_same_speech_with_and_without_loud_noise(F):
    from twd_lab.augment import rms_db
    from twd_lab.constants import TARGET_DBFS

    talker = (0.1 * np.random.default_rng(5).standard_normal(441_000)).astype(np.float32)
    pairs = list(F.distillation_pairs(_raw(), 3, [talker], kinds=("traffic",), snr_range_db=(10, 10), rng=1))
    assert len(pairs) == 4  # three word clips, then the talker
    for noisy, clean in pairs:
        assert noisy.shape == clean.shape == (441_000,)
        assert rms_db(noisy) == pytest.approx(TARGET_DBFS, abs=0.01)  # as detect level-matches a file
        assert rms_db(noisy - clean) < rms_db(clean)  # the loud noise is below the speech ...
        assert rms_db(noisy - clean) > rms_db(clean) - 13  # ... by about the 10 dB asked (and the room)
    again = next(F.distillation_pairs(_raw(), 3, kinds=("traffic",), rng=1))
    np.testing.assert_array_equal(
        again[0], next(F.distillation_pairs(_raw(), 3, kinds=("traffic",), rng=1))[0]
    )
    with pytest.raises(ValueError, match="raw must hold backgrounds"):
        next(F.distillation_pairs(_raw()[:2] + ([],), 1, rng=0))


def test_pair_features_are_the_frozen_stages_and_the_clean_embeddings(F):
    noisy, clean = next(F.distillation_pairs(_raw(), 1, kinds=("music",), rng=2))
    below_noisy, below_clean, target = F.pair_features(noisy, clean)
    assert below_noisy.shape == below_clean.shape == (244, F.BELOW_BANDS, F.BELOW_CHANNELS)
    assert target.shape == (116, 96) and target.dtype == np.float16
    np.testing.assert_allclose(target, E.embeddings(clean, 44_100)[0], atol=0.05)
    assert not np.allclose(below_noisy, below_clean)


def test_distilling_brings_the_noisy_embeddings_toward_the_clean_ones(F):
    feats = [F.pair_features(n, c) for n, c in F.distillation_pairs(_raw(), 4, kinds=("babble",), rng=3)]
    below_noisy, below_clean, target = (np.stack([f[i] for f in feats]) for i in range(3))
    top, info = F.distill(below_noisy, below_clean, target, epochs=3, learning_rate=1e-4, validation=0.0)
    assert info["clips"] == 4 and len(info["loss"]) == 3 and np.isfinite(info["loss"]).all()
    before = np.asarray(F.build_top().model(below_noisy.astype(np.float32)))
    after = np.asarray(top.model(below_noisy.astype(np.float32)))
    goal = target.astype(np.float32)
    assert ((after - goal) ** 2).mean() < ((before - goal) ** 2).mean()
    with pytest.raises(ValueError, match="below_clean must have below_noisy's shape"):
        F.distill(below_noisy, below_clean[:2], target)
    with pytest.raises(ValueError, match=r"target must have shape \(4, 116, 96\)"):
        F.distill(below_noisy, below_clean, target[:, :10])
    with pytest.raises(ValueError, match="validation must be in"):
        F.distill(below_noisy, below_clean, target, validation=1.0)


def test_the_distilling_tool_puts_the_head_as_it_was_over_the_new_front_end(F, tmp_path):
    from conftest import load_tool

    tool = load_tool("distill_front_end")
    start = tmp_path / "start.keras"
    D.EmbeddingDetector(_two_member_head(), D.DetectorConfig(threshold=0.9)).save(start)
    out = tmp_path / "d" / "head.keras"
    argv = [
        "--head",
        str(start),
        "--words",
        "2",
        "--talk",
        "0",
        "--epochs",
        "1",
        "--cache",
        str(tmp_path / "c"),
    ]
    assert tool.main([*argv, "--out", str(out)]) == 0
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["front_end"] == "head.front.npz" and saved["threshold"] == 0.9
    assert saved["notes"]["front_end"]["words"] == 2 and len(saved["notes"]["front_end"]["loss"]) == 1
    assert saved["notes"]["front_end"]["command"] == " ".join(
        ["python tools/distill_front_end.py", *argv, "--out", str(out)]
    )
    made, kept = D.EmbeddingDetector.load(out), D.EmbeddingDetector.load(start)
    windows = np.random.default_rng(0).standard_normal((3, 16, 96)).astype(np.float32)
    np.testing.assert_allclose(made.predict(windows), kept.predict(windows), atol=1e-6)  # the head as it was
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1  # the pairs, kept for the next run
    for bad in (start, out, tmp_path / "head.h5"):  # its own head; a result already there; not .keras
        with pytest.raises(SystemExit):
            tool.main([*argv, "--out", str(bad)])
    with pytest.raises(SystemExit):  # a head that already hears through a tuned front end
        tool.main(["--head", str(out), "--words", "2", "--talk", "0", "--out", str(tmp_path / "e.keras")])
    kept = tmp_path / "k" / "head.keras"
    assert tool.main([*argv, "--keep-mixed", "3", "--out", str(kept)]) == 0
    assert json.loads(kept.with_suffix(".json").read_text())["notes"]["front_end"]["keep_mixed"] == 3
    assert len(list((tmp_path / "c").glob("*_keep_n3_*.npz"))) == 1  # kept clips cached beside the pairs


def test_kept_clips_are_mixed_clips_as_detect_hears_them_cut_to_ten_seconds(F):
    from twd_lab.constants import CLIP_SAMPLES, DETECT_LEAD_S, DETECT_TAIL_S, SAMPLE_RATE
    from twd_lab.detection import pad_edges
    from twd_lab.evaluation import iter_test_clips

    raw = _raw(1)
    kept = list(F.keep_clips(raw, 4, rng=5))
    clips = [pad_edges(c) for c, _ in iter_test_clips(raw, 4, 5)]
    assert all(k.shape == (CLIP_SAMPLES,) for k in kept)
    lead, tail = round(DETECT_LEAD_S * SAMPLE_RATE), round(DETECT_TAIL_S * SAMPLE_RATE)
    for i, (k, heard) in enumerate(zip(kept, clips)):
        np.testing.assert_array_equal(k, heard[:CLIP_SAMPLES] if i % 2 == 0 else heard[-CLIP_SAMPLES:])
        edge = k[:lead] if i % 2 == 0 else k[-tail:]
        assert not edge.any() and k.any()  # the silence detect adds, then the clip itself


def test_the_training_tool_fits_a_head_on_a_front_ends_embeddings_and_saves_it_with_them(
    shifted_front_end, tmp_path, capsys
):
    from conftest import load_tool

    tool = load_tool("train_embedding_detector")
    _, weights = shifted_front_end
    cache, out = tmp_path / "c", tmp_path / "h" / "head.keras"
    argv = ["--augmented", "2", "--plain", "0", "--hard-negatives", "0", "--members", "1", "--epochs", "1"]
    argv += ["--cache", str(cache)]
    assert tool.main([*argv, "--front-end", str(weights), "--out", str(out)]) == 0
    made = out.read_bytes()
    with pytest.raises(SystemExit):  # a head already there is the user's: refused before any work
        tool.main([*argv, "--out", str(out)])
    assert "pass --overwrite" in capsys.readouterr().err and out.read_bytes() == made
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["front_end"] == "head.front.npz" and saved["notes"]["front_end"] == str(weights)
    # the notes' command reruns this fit: the tool's own name and the arguments it was given, not pytest's
    want = " ".join(
        ["python tools/train_embedding_detector.py", *argv, "--front-end", str(weights), "--out", str(out)]
    )
    assert saved["notes"]["command"] == want
    assert D.EmbeddingDetector.load(out).front_end.read_bytes() == weights.read_bytes()
    (cached,) = cache.glob("*.npz")  # the clips' embeddings, named apart from the shipped front end's
    assert front_end_tag(weights) in cached.name
    clips = D.EmbeddedClips.load(cached)
    # the cached embeddings are the front end's, not the shipped model's, of the same two clips
    assert tool.main([*argv, "--out", str(tmp_path / "plain.keras")]) == 0
    (plain,) = set(cache.glob("*.npz")) - {cached}
    assert not np.allclose(D.EmbeddedClips.load(plain).emb, clips.emb, atol=1e-3)
    assert D.EmbeddingDetector.load(tmp_path / "plain.keras").front_end is None
    (tmp_path / "w.txt").write_text("not weights")
    for bad in (tmp_path / "w.txt", tmp_path / "missing.npz", out):  # not .npz; missing; a head, not weights
        with pytest.raises(SystemExit):
            tool.main([*argv, "--front-end", str(bad), "--out", str(tmp_path / "x.keras")])
        assert "--front-end" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists()
    with pytest.raises(SystemExit):  # refused before any clip is made, not after the training
        tool.main([*argv, "--out", str(tmp_path / "head.h5")])
    assert "--out must end in .keras" in capsys.readouterr().err
