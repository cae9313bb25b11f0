"""`twd-lab detect` and `listen` with careless input: nothing lost, outputs checked before the work,
`-` as standard input, one-line errors (issue 15, items 1, 2, 10, 14, 15)."""

from __future__ import annotations

import io
import json
import sys
import types

import pytest
from conftest import noise, run_cli, skip_without_embedding_detector

from twd_lab.audio import write_wav

run = run_cli


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def two_folders(tmp_path):
    """a/x.wav and b/x.wav (same name, different audio), and d/x.wav beside d/x_chimed.wav."""
    for i, folder in enumerate("abd"):
        (tmp_path / folder).mkdir()
        write_wav(tmp_path / folder / "x.wav", noise(1.0, seed=i))
    write_wav(tmp_path / "d" / "x_chimed.wav", noise(1.0, seed=9))
    return tmp_path


def test_overwrite_never_replaces_an_input_of_the_same_run(capsys, two_folders):
    d = two_folders / "d"
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    code, out, err = run(
        capsys, "detect", str(d / "x.wav"), str(d / "x_chimed.wav"), "--chime", str(d), "--overwrite"
    )
    assert code == 1 and out == ""
    (line,) = lines(err)
    assert line.startswith("twd-lab: error: ") and "x_chimed.wav" in line and "input" in line
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


def test_two_inputs_never_map_to_one_output(capsys, two_folders):
    out_dir = two_folders / "out"
    out_dir.mkdir()
    code, out, err = run(
        capsys,
        "detect",
        str(two_folders / "a" / "x.wav"),
        str(two_folders / "b" / "x.wav"),
        "--chime",
        str(out_dir),
        "--overwrite",
    )
    assert code == 1 and out == ""
    (line,) = lines(err)
    assert "a/x.wav" in line and "b/x.wav" in line and "x_chimed.wav" in line
    assert not out_dir.exists() or not any(out_dir.iterdir())


@pytest.mark.parametrize("where", ["missing/o.wav", "afile/o.wav", "afile/deeper/o.wav"])
def test_chime_outputs_are_checked_before_any_detection(capsys, two_folders, where, monkeypatch):
    (two_folders / "afile").write_text("a file, not a folder")

    def no_work(*args, **kwargs):
        raise AssertionError("the detector was loaded before the outputs were checked")

    monkeypatch.setattr("twd_lab.cli._load_detector", no_work)
    code, out, err = run(
        capsys, "detect", str(two_folders / "a" / "x.wav"), "--chime", str(two_folders / where)
    )
    assert code == 1 and out == ""
    (line,) = lines(err)
    assert line.startswith("twd-lab: error: --chime: ")
    assert ("does not exist" in line) if where.startswith("missing") else ("is a file, not a folder" in line)


@pytest.mark.parametrize(
    ("chime", "expected"),
    [
        ("tpyo_folder.wav", "looks like a file name"),
        ("nodir/sub/deeper", "the folder"),
        ("chimes", "the folder"),
    ],
)
def test_a_chime_folder_for_several_files_must_exist(capsys, two_folders, monkeypatch, chime, expected):
    monkeypatch.setattr("twd_lab.cli._load_detector", lambda args: pytest.fail("detector loaded"))
    before = sorted(p.name for p in two_folders.iterdir())
    a, b = two_folders / "a" / "x.wav", two_folders / "d" / "x_chimed.wav"
    code, out, err = run(capsys, "detect", str(a), str(b), "--chime", str(two_folders / chime))
    assert code == 1 and out == ""
    (line,) = lines(err)
    assert line.startswith("twd-lab: error: --chime: ") and expected in line
    assert "does not exist" in line or "existing folder" in line
    assert sorted(p.name for p in two_folders.iterdir()) == before  # no folder made


@pytest.mark.parametrize("name", ["out.mp3", "out.flac", "out_noext", "out.wav.txt"])
def test_a_chime_file_must_be_named_wav(capsys, two_folders, monkeypatch, name):
    monkeypatch.setattr("twd_lab.cli._load_detector", lambda args: pytest.fail("detector loaded"))
    code, out, err = run(
        capsys, "detect", str(two_folders / "a" / "x.wav"), "--chime", str(two_folders / name)
    )
    assert code == 1 and out == ""
    (line,) = lines(err)
    assert line.startswith("twd-lab: error: --chime: ") and "WAV" in line and ".wav" in line and name in line
    assert not (two_folders / name).exists()


def test_an_existing_chime_is_refused_before_the_work_with_cli_words(capsys, two_folders, monkeypatch):
    monkeypatch.setattr("twd_lab.cli._load_detector", lambda args: pytest.fail("detector loaded"))
    target = two_folders / "d" / "x_chimed.wav"
    code, _, err = run(capsys, "detect", str(two_folders / "a" / "x.wav"), "--chime", str(target))
    assert code == 1
    (line,) = lines(err)
    assert "already exists" in line and "--overwrite" in line and "overwrite=True" not in line


class _Stdin:
    def __init__(self, data: bytes, tty: bool = False):
        self.buffer = io.BytesIO(data)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_dash_reads_the_wav_from_standard_input(capsys, two_folders, monkeypatch):
    skip_without_embedding_detector()
    wav = (two_folders / "a" / "x.wav").read_bytes()
    monkeypatch.setattr(sys, "stdin", _Stdin(wav))
    code, out, err = run(capsys, "detect", "-", "--detector", "embedding", "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["file"] == "-" and record["duration_s"] == pytest.approx(1.0)


def test_dash_errors_name_standard_input(capsys, monkeypatch):
    monkeypatch.setattr("twd_lab.cli._load_detector", lambda args: (None, "lab"))
    monkeypatch.setattr(sys, "stdin", _Stdin(b"ID3\x04 not a wav"))
    code, _, err = run(capsys, "detect", "-")
    assert code == 1
    assert "standard input" in lines(err)[0] and "twd-lab-stdin" not in err
    monkeypatch.setattr(sys, "stdin", _Stdin(b"", tty=True))
    code, _, err = run(capsys, "detect", "-")
    assert code == 1 and "nothing is piped in" in err
    code, _, err = run(capsys, "detect", "-", "-")
    assert code == 1 and "only once" in err


# ------------------------------------------------------------------------------------------ listen


def _fake_sounddevice(query):
    module = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    module.PortAudioError = PortAudioError

    def query_devices(*args, **kwargs):
        return query(PortAudioError)

    module.query_devices = query_devices
    return module


def test_listen_without_an_input_device_is_one_line(capsys, monkeypatch):
    def no_device(error):
        raise error("Error querying device -1")

    monkeypatch.setitem(sys.modules, "sounddevice", _fake_sounddevice(no_device))
    monkeypatch.setattr("twd_lab.cli._load_detector", lambda args: pytest.fail("detector loaded first"))
    code, _, err = run(capsys, "listen", "--seconds", "1")
    assert code == 1
    (line,) = lines(err)
    assert "no microphone" in line and "Error querying device -1" in line


def test_listen_without_portaudio_says_which_package_to_install(capsys, monkeypatch, tmp_path):
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = run(capsys, "listen", "--seconds", "1")
    assert code == 1
    (line,) = lines(err)
    assert (
        "PortAudio library not found" in line and "libportaudio2" in line and "brew install portaudio" in line
    )


# ------------------------------------------------------------------------- model and head files


@pytest.fixture
def clip(tmp_path):
    return str(write_wav(tmp_path / "clip.wav", noise(1.0)))


def _head_copy(tmp_path, name="head"):
    from twd_lab.embedding_detector import default_head_path

    head = tmp_path / f"{name}.keras"
    head.write_bytes(default_head_path().read_bytes())
    return head


def test_a_lab_model_given_as_head_is_one_line(capsys, tmp_path, clip):
    from twd_lab.assets_index import model_path

    lab = tmp_path / "lab.keras"
    lab.write_bytes(model_path().read_bytes())
    code, _, err = run(capsys, "detect", clip, "--head", str(lab))
    assert code == 1
    (line,) = lines(err)
    assert "lab.keras takes inputs of shape (None, 101)" in line and "--model" in line
    (tmp_path / "lab.json").write_bytes(model_path().with_suffix(".json").read_bytes())  # its metadata too
    code, _, err = run(capsys, "detect", clip, "--head", str(lab))
    assert code == 1
    (line,) = lines(err)
    assert "lab.json has settings a speech-embedding head does not have" in line


@pytest.mark.parametrize(
    "settings, words",
    [
        ('{"threshold": 0.9, "bogus": 1}', "has settings a speech-embedding head does not have: bogus"),
        ("[1, 2]", "must hold a JSON object of settings, got a list"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_bad_head_settings_file_is_one_line(capsys, tmp_path, clip, settings, words):
    head = _head_copy(tmp_path)
    head.with_suffix(".json").write_text(settings)
    code, _, err = run(capsys, "detect", clip, "--head", str(head))
    assert code == 1
    (line,) = lines(err)
    assert "head.json" in line and words in line


def test_an_npz_beside_a_head_that_is_not_ours_is_ignored(tmp_path):
    import numpy as np
    from twd_lab.numpy_head import NumpyHead, matches_keras_file

    head = _head_copy(tmp_path)
    np.savez(head.with_suffix(".npz"), a=np.zeros(3))  # no __meta__
    assert matches_keras_file(head) is False and NumpyHead.load(head) is None
    head.with_suffix(".npz").write_text("not a zip at all")
    assert matches_keras_file(head) is False


def test_a_model_that_is_not_a_model_names_the_cause(capsys, tmp_path, clip):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    code, _, err = run(capsys, "detect", clip, "--model", str(junk))
    assert code == 1
    (line,) = lines(err)
    assert "junk.keras is not a Keras model" in line and "File not found" not in line


@pytest.mark.parametrize("command", ["detect", "evaluate", "personalize"])
def test_a_head_the_user_names_that_is_not_there_is_called_missing_not_to_be_trained(
    capsys, two_folders, monkeypatch, command
):
    monkeypatch.chdir(two_folders)
    (two_folders / "adir").mkdir()
    first = {"detect": ["a/x.wav"], "evaluate": [], "personalize": ["a", "--out", "p.keras"]}[command]
    for head, expected in (
        ("missing.keras", "--head: missing.keras does not exist"),
        ("adir", "--head: adir is a folder, not a .keras file"),
    ):
        code, out, err = run(capsys, command, *first, "--head", head)
        assert code == 1 and out == ""
        assert lines(err) == [f"twd-lab: error: {expected}"]  # no advice to train over the shipped head


def test_each_files_error_starts_with_its_name(capsys, two_folders, monkeypatch):
    skip_without_embedding_detector()
    monkeypatch.chdir(two_folders)
    code, out, err = run(
        capsys, "detect", "missing.wav", "a", "nodir/x.wav", "a/x.wav", "--detector", "embedding"
    )
    assert code == 1 and out.startswith("a/x.wav ")
    assert lines(err) == [
        "twd-lab: error: missing.wav: no such file",
        "twd-lab: error: a: is a folder, not an audio file",
        "twd-lab: error: nodir/x.wav: the folder nodir does not exist",
        "twd-lab: error: 3 of 4 file(s) failed",
    ]
    code, out, err = run(capsys, "detect", "missing.wav", "--detector", "embedding")
    assert code == 1 and out == ""
    assert lines(err) == ["twd-lab: error: missing.wav: no such file"]  # one file, one line


@pytest.mark.parametrize("raw", ["missing", "a/x.wav"])
def test_synth_raw_errors_name_the_option(capsys, two_folders, monkeypatch, raw):
    monkeypatch.chdir(two_folders)
    code, out, err = run(capsys, "synth", "--raw", raw, "--out", "ds", "-m", "1", "--quiet")
    assert code == 1 and out == ""
    why = "the folder missing does not exist" if raw == "missing" else "a/x.wav is a file"
    expected = "--raw: expected a folder with activates/, negatives/, backgrounds/ subfolders, but " + why
    assert lines(err) == [f"twd-lab: error: {expected}"]
    assert not (two_folders / "ds").exists()
