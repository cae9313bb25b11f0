"""twd_lab.dataset: seeded, parallel, sharded float32 datasets that stream back; user folders are safe."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from twd_lab.constants import N_FREQ, TX, TY
from twd_lab.dataset import build_dataset, iter_batches, load_dataset
from twd_lab.synthesis import create_training_example


@pytest.fixture(scope="module")
def raw(clips):
    background, activates, negatives = clips
    return activates, negatives, [background, background[: len(background) // 2]]


@pytest.fixture(scope="module")
def built(tmp_path_factory, raw):
    out = tmp_path_factory.mktemp("ds") / "one"
    info = build_dataset(out, 11, raw=raw, seed=3, shard_size=4, workers=1, progress=False)
    return out, info


def test_build_writes_float32_shards_and_a_manifest(built):
    out, info = built
    assert info.complete and info.m == 11 and len(info.shards) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "twd-lab-dataset" and manifest["m"] == 11
    x0 = np.load(out / "X_00000.npy", mmap_mode="r")
    y2 = np.load(out / "Y_00002.npy", mmap_mode="r")
    assert x0.shape == (4, TX, N_FREQ) and x0.dtype == np.float32
    assert y2.shape == (3, TY, 1) and y2.dtype == np.float32


def test_load_dataset_gives_read_only_arrays_of_the_right_shape(built):
    out, _ = built
    ds = load_dataset(out)
    assert len(ds) == 11 and ds.X.shape == (11, TX, N_FREQ) and ds.Y.shape == (11, TY, 1)
    assert ds.X[5].shape == (TX, N_FREQ) and ds.X[-1].shape == (TX, N_FREQ)
    assert not ds.X[5].flags.writeable
    assert ds.X[[9, 1, 4]].shape == (3, TX, N_FREQ)
    np.testing.assert_array_equal(ds.X[2:6], np.stack([ds.X[i] for i in range(2, 6)]))
    with pytest.raises(IndexError):
        ds.X[11]


def test_example_i_is_the_seeded_training_example(built, raw):
    # example i = create_training_example with SeedSequence(seed).spawn(m)[i], background drawn first
    out, _ = built
    ds = load_dataset(out)
    activates, negatives, backgrounds = raw
    for i in (0, 6, 10):
        rng = np.random.default_rng(np.random.SeedSequence(3).spawn(11)[i])
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        x, y = create_training_example(background, activates, negatives, rng=rng)
        np.testing.assert_array_equal(ds.X[i], x.T)
        np.testing.assert_array_equal(ds.Y[i][:, 0], y[0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process pool start-up is slow elsewhere")
def test_result_does_not_depend_on_the_number_of_workers(built, raw, tmp_path):
    out, _ = built
    info = build_dataset(tmp_path / "two", 11, raw=raw, seed=3, shard_size=5, workers=2, progress=False)
    assert info.workers == 2
    a, b = load_dataset(out), load_dataset(tmp_path / "two")
    np.testing.assert_array_equal(np.asarray(a.X), np.asarray(b.X))
    np.testing.assert_array_equal(np.asarray(a.Y), np.asarray(b.Y))


def test_iter_batches_covers_everything_once_in_a_seeded_order(built):
    ds = load_dataset(built[0])
    seen = []
    for x, y in iter_batches(ds, 4, shuffle=True, rng=0):
        assert x.shape[1:] == (TX, N_FREQ) and y.shape[1:] == (TY, 1) and len(x) == len(y) <= 4
        for row in x:
            seen.append(next(i for i in range(len(ds)) if np.array_equal(ds.X[i], row)))
    assert sorted(seen) == list(range(11))
    assert seen == list(np.random.default_rng(0).permutation(11))
    plain = [len(x) for x, _ in iter_batches(ds, 4, shuffle=False, drop_last=True)]
    assert plain == [4, 4]


def test_refuses_a_folder_that_is_not_one_of_its_datasets(tmp_path, raw):
    user = tmp_path / "my_data"
    user.mkdir()
    (user / "thesis.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        build_dataset(user, 2, raw=raw, workers=1, progress=False)
    assert [p.name for p in user.iterdir()] == ["thesis.txt"]
    assert (user / "thesis.txt").read_text() == "precious"


def test_rebuilding_replaces_only_its_own_files(tmp_path, raw):
    out = tmp_path / "ds"
    build_dataset(out, 6, raw=raw, shard_size=3, workers=1, progress=False)
    (out / "notes.txt").write_text("mine")
    build_dataset(out, 2, raw=raw, shard_size=3, workers=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "X_00000.npy",
        "Y_00000.npy",
        "manifest.json",
        "notes.txt",
    ]
    assert len(load_dataset(out)) == 2


def test_bad_arguments_are_named(tmp_path, raw):
    with pytest.raises(ValueError, match="m must be"):
        build_dataset(tmp_path / "a", 0, raw=raw)
    with pytest.raises(ValueError, match="shard_size"):
        build_dataset(tmp_path / "a", 3, raw=raw, shard_size=0)
    with pytest.raises(ValueError, match="negatives"):
        build_dataset(tmp_path / "a", 3, raw=(raw[0], [], raw[2]))
    with pytest.raises(FileNotFoundError, match="no_such_folder does not exist"):
        build_dataset(tmp_path / "a", 3, raw=tmp_path / "no_such_folder")
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        load_dataset(tmp_path)


def test_an_interrupted_build_is_not_loaded(tmp_path, raw):
    out = tmp_path / "ds"
    build_dataset(out, 2, raw=raw, workers=1, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="incomplete"):
        load_dataset(out)
    build_dataset(out, 2, raw=raw, workers=1, progress=False)  # but it can be rebuilt in place
    assert len(load_dataset(out)) == 2


def test_builds_from_a_lab_style_folder(tmp_path, raw_folder):
    info = build_dataset(tmp_path / "ds", 2, raw=raw_folder, workers=1, progress=False)
    assert info.source == str(raw_folder) and len(load_dataset(tmp_path / "ds")) == 2


def test_dataset_module_does_not_import_keras():
    import subprocess

    code = "import sys, twd_lab.dataset; print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "False"
