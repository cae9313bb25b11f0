"""Training: streaming datasets, seeded on-the-fly batches, checkpoints that never clobber, loss falls."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from twd_lab.constants import N_FREQ, TX, TY
from twd_lab.evaluation import TestSet
from twd_lab.models import build_model, compile_model
from twd_lab.training import ArrayDataset, OnTheFlyDataset, VariantCache, history_to_json, train


def _raw():
    rng = np.random.default_rng(0)
    t = np.arange(22_050) / 44_100
    acts = [(0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32")]
    negs = [(0.1 * rng.standard_normal(15_000)).astype("float32")]
    bgs = [(0.01 * rng.standard_normal(441_000)).astype("float32")]
    return acts, negs, bgs


def _toy(n=8, frames=200, seed=0):
    """Short inputs where a loud band marks where the label is 1."""
    rng = np.random.default_rng(seed)
    steps = (frames - 15) // 4 + 1
    x = rng.gamma(1.0, 10.0, size=(n, frames, N_FREQ)).astype("float32")
    y = np.zeros((n, steps, 1), "float32")
    for i in range(n):
        s = int(rng.integers(5, steps - 10))
        y[i, s : s + 8] = 1
        x[i, 4 * s : 4 * s + 32, :30] *= 100
    return x, y


def test_array_dataset_visits_every_example_once_per_epoch():
    X = np.arange(10, dtype="float32").reshape(10, 1, 1)
    ds = ArrayDataset(X, X.copy(), batch_size=4, seed=1)
    assert len(ds) == 3
    seen = np.concatenate([ds[i][0].ravel() for i in range(len(ds))])
    assert sorted(seen.tolist()) == list(range(10))
    first = seen.copy()
    ds.on_epoch_end()
    again = np.concatenate([ds[i][0].ravel() for i in range(len(ds))])
    assert sorted(again.tolist()) == list(range(10)) and not np.array_equal(again, first)


def test_on_the_fly_batches_are_seeded_and_shaped_like_the_lab():
    a = OnTheFlyDataset(_raw(), steps_per_epoch=2, batch_size=2, seed=3, augment=False)
    b = OnTheFlyDataset(_raw(), steps_per_epoch=2, batch_size=2, seed=3, augment=False)
    (xa, ya), (xb, yb) = a[1], b[1]
    assert xa.shape == (2, TX, N_FREQ) and ya.shape == (2, TY, 1)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    a.on_epoch_end()
    assert not np.array_equal(a[1][0], xb)  # a new epoch draws new examples


def test_on_the_fly_augmentation_runs():
    x, y = OnTheFlyDataset(_raw(), steps_per_epoch=1, batch_size=1, seed=0, augment=True)[0]
    assert np.all(np.isfinite(x)) and set(np.unique(y)) <= {0.0, 1.0}


def test_variant_cache_reuses_variants():
    calls = []

    def aug(clip, rng):
        calls.append(1)
        return clip + rng.random()

    cache = VariantCache(aug, p_fresh=0.0)
    clip = np.zeros(4, "float32")
    rng = np.random.default_rng(0)
    outs = [cache(clip, rng) for _ in range(5)]
    assert len(calls) == 1 and all(np.array_equal(o, outs[0]) for o in outs)


@pytest.mark.slow
def test_a_tiny_training_run_reduces_the_loss(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _toy()
    dev = TestSet(x[:2], y[:2], [[1.0], [1.0]], "toy", 0)
    model = compile_model(build_model("functional", input_length=None), learning_rate=1e-2)
    history = train(
        model,
        train_data=(x, y),
        val_data=dev,
        epochs=4,
        batch_size=4,
        checkpoint_dir=tmp_path / "ckpt",
        early_stopping_patience=None,
        progress=False,
    )
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert {"dev_f1", "dev_loss", "dev_recall", "dev_precision"} <= set(history.history)
    assert (tmp_path / "ckpt" / "best.keras").is_file() and (tmp_path / "ckpt" / "history.csv").is_file()
    assert len(history_to_json(history)) > 10
    # a second run into the same folder must not replace the first one's files
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train(model, train_data=(x, y), val_data=dev, epochs=1, checkpoint_dir=tmp_path / "ckpt")
