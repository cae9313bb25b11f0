"""`twd-lab synth` / build_dataset with careless input: nothing lost, nothing half-done, disk checked
first, and broken datasets named on loading (issue 15, items 3, 4, 11, 12)."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from twd_lab import dataset, dataset_folder
from twd_lab.cli import main
from twd_lab.dataset import EXAMPLE_BYTES, build_dataset, load_dataset


@pytest.fixture(scope="module")
def raw(clips):
    background, activates, negatives = clips
    return activates, negatives, [background]


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name and p.name.startswith("."))


def test_an_interrupted_rebuild_leaves_the_earlier_dataset_intact(tmp_path, raw, monkeypatch):
    out = tmp_path / "ds"
    build_dataset(out, 3, raw=raw, shard_size=2, workers=1, progress=False)
    before = snapshot(out)
    calls = []
    real = dataset._build_chunk

    def interrupted(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(dataset, "_build_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(out, 30, raw=raw, shard_size=8, workers=1, progress=False)
    assert snapshot(out) == before and len(load_dataset(out)) == 3
    assert leftovers(out) == []  # the half-built one is gone


def test_a_rebuild_deletes_only_shard_files_its_manifest_recorded(tmp_path, raw):
    out = tmp_path / "ds"
    build_dataset(out, 2, raw=raw, workers=1, progress=False)
    (out / "important.doc").write_text("precious")
    (tmp_path / "outside.txt").write_text("precious too")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"].append({"x": "important.doc", "y": "../outside.txt", "n": 0, "start": 2})
    (out / "manifest.json").write_text(json.dumps(manifest))
    build_dataset(out, 2, raw=raw, workers=1, progress=False)
    assert (out / "important.doc").read_text() == "precious"
    assert (tmp_path / "outside.txt").read_text() == "precious too"
    assert len(load_dataset(out)) == 2


def test_shards_are_created_as_they_fill(tmp_path, raw, monkeypatch):
    seen = []
    real = dataset._build_chunk

    def spy(task):
        seen.append(sorted(p.name for p in Path(task[3]).parent.iterdir()))
        return real(task)

    monkeypatch.setattr(dataset, "_build_chunk", spy)
    build_dataset(tmp_path / "ds", 6, raw=raw, shard_size=2, workers=1, progress=False)
    assert seen[0] == ["X_00000.npy", "Y_00000.npy"]
    assert seen[-1] == [
        "X_00000.npy",
        "X_00001.npy",
        "X_00002.npy",
        "Y_00000.npy",
        "Y_00001.npy",
        "Y_00002.npy",
    ]


Usage = namedtuple("Usage", "total used free")


def test_a_dataset_the_disk_cannot_hold_is_refused_before_anything_is_written(tmp_path, raw, monkeypatch):
    monkeypatch.setattr(dataset_folder.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 10**7, 10**7))
    out = tmp_path / "ds"
    with pytest.raises(OSError, match=r"need 0\.1 GB \(2\.2 MB each\) but only 0\.0 GB are free"):
        build_dataset(out, 50, raw=raw, workers=1, progress=False)
    assert not out.exists() and leftovers(out) == []
    assert 2.2e6 < EXAMPLE_BYTES < 2.3e6


def test_synth_of_a_million_examples_is_one_line_with_the_size_needed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(
        dataset_folder.shutil, "disk_usage", lambda path: Usage(10**12, 5 * 10**11, 5 * 10**11)
    )
    code = main(["synth", "--out", str(tmp_path / "big"), "-m", "1000000", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("twd-lab: error: --out: ") and "out_dir" not in line
    assert "2,231.9 GB" in line and "500.0 GB are free" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ loading


@pytest.fixture
def built(tmp_path, raw):
    out = tmp_path / "ds"
    build_dataset(out, 3, raw=raw, shard_size=2, workers=1, progress=False)
    return out


def test_a_manifest_without_shards_is_named(built):
    manifest = json.loads((built / "manifest.json").read_text())
    del manifest["shards"]
    (built / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r'manifest.json has no valid "shards" list'):
        load_dataset(built)


def test_a_shard_of_python_objects_is_named_with_its_path(built):
    np.save(built / "X_00001.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"the shard .*X_00001\.npy cannot be read: it holds Python objects"):
        load_dataset(built)


def test_a_truncated_shard_is_named_with_its_path(built):
    shard = built / "Y_00000.npy"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"the shard .*Y_00000\.npy cannot be read: .*truncated"):
        load_dataset(built)


def test_a_shard_of_the_wrong_shape_is_named(built):
    np.save(built / "X_00000.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"X_00000\.npy holds float32 \(2, 3\), expected float32"):
        load_dataset(built)


def test_a_dataset_manifest_error_is_one_line_in_train(built, capsys):
    (built / "manifest.json").write_text("[1, 2]")
    code = main(["train", "--data", str(built), "--out", str(built.parent / "m.keras"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.splitlines()) == 1 and "not a twd-lab dataset manifest" in err
    assert err.startswith("twd-lab: error: --data: ")
