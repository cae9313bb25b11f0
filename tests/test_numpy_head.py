"""The embedding head's NumPy copy: the Keras head's numbers, never a stale copy, no TensorFlow to detect."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import skip_without_embedding_detector

keras = pytest.importorskip("keras")

from twd_lab.numpy_head import NumpyHead, matches_keras_file, numpy_path, write_numpy_head

from twd_lab import embedding_detector as D


def _windows(n: int = 300, history: int = D.HISTORY, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1.5, (n, history, 96)).astype(np.float32)


def _trained(head, seed: int = 0):
    """Give every weight a non-trivial value (LayerNorm's gamma/beta start at 1/0)."""
    rng = np.random.default_rng(seed)
    head.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in head.get_weights()])
    return head


@pytest.mark.parametrize(
    "kwargs, members",
    [({}, 1), ({"layers": 2, "units": 16}, 1), ({"input_dropout": 0.3}, 3), ({"history": 8}, 2)],
)
def test_the_numpy_copy_gives_the_keras_heads_probabilities(tmp_path, kwargs, members):
    history = kwargs.get("history", D.HISTORY)
    heads = [
        _trained(D.build_head(history, **{k: v for k, v in kwargs.items() if k != "history"}), seed=k)
        for k in range(members)
    ]
    model = D.average_heads(heads)
    path = tmp_path / "head.keras"
    model.save(path)
    write_numpy_head(model, path)
    fast = NumpyHead.load(path)
    X = _windows(history=history)
    expected = D.predict_windows(model, X)
    np.testing.assert_allclose(fast(X), expected, atol=2e-6)
    assert fast(X).dtype == np.float32 and expected.std() > 0.05  # the probabilities really vary
    assert fast(X[:0]).shape == (0,)  # audio too short for one step
    with pytest.raises(ValueError, match="windows must have shape"):
        fast(X[:, :-1])


def test_save_writes_the_copy_and_load_runs_it_without_loading_keras(tmp_path):
    det = D.EmbeddingDetector(D.average_heads([_trained(D.build_head(), seed=k) for k in range(2)]))
    path = tmp_path / "mine.keras"
    det.save(path)
    assert numpy_path(path).is_file() and matches_keras_file(path)
    loaded = D.EmbeddingDetector.load(path)
    assert loaded.fast_head is not None and loaded._head is None  # Keras head not loaded yet
    emb = _windows(40, 1)[:, 0]  # 40 steps of embeddings
    np.testing.assert_allclose(
        loaded.probabilities_from_embeddings(emb)[0], det.probabilities_from_embeddings(emb)[0], atol=2e-6
    )
    assert loaded.head is not None and loaded._head is not None  # the Keras head, when asked for


def test_a_copy_of_another_version_of_the_keras_file_is_not_used(tmp_path):
    path = tmp_path / "head.keras"
    D.EmbeddingDetector(_trained(D.build_head(), seed=1)).save(path)
    other = _trained(D.build_head(), seed=2)
    other.save(path)  # the .keras changes behind the copy's back
    assert not matches_keras_file(path)
    det = D.EmbeddingDetector.load(path)
    assert det.fast_head is None
    X = _windows(50)
    np.testing.assert_allclose(det.predict(X), D.predict_windows(other, X), atol=1e-7)


def test_a_head_of_other_layers_is_saved_without_a_copy_and_runs_in_keras(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((D.HISTORY, 96)),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    path = tmp_path / "odd.keras"
    numpy_path(path).write_bytes(b"stale")
    D.EmbeddingDetector(model).save(path)
    assert not numpy_path(path).exists()
    assert D.EmbeddingDetector.load(path).fast_head is None


def test_the_shipped_head_has_a_matching_copy_and_detect_runs_without_tensorflow():
    from twd_lab.assets_index import bundled_raw_dir

    skip_without_embedding_detector()
    assert matches_keras_file(D.default_head_path()), "re-save the shipped head: its .npz is stale"
    word = min((bundled_raw_dir("heldout") / "activates").glob("*.wav"))
    code = (
        "import sys, json; from twd_lab.cli import main; "
        f"main(['detect', {str(word)!r}, '--json']); "
        "print(json.dumps(['tensorflow' in sys.modules, 'keras' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result, loaded = out.strip().splitlines()
    assert len(__import__("json").loads(result)["triggers"]) == 1
    assert loaded == "[false, false]"
