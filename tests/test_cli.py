"""The `twd-lab` command: the JSON contract, one-line errors, exit codes, nothing overwritten, fast help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import SR, noise, run_cli, tone

from twd_lab.cli import build_parser

SUBCOMMANDS = ("demo", "detect", "listen", "synth", "train", "evaluate")


run = run_cli


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# ------------------------------------------------------------------------------- help, start-up


@pytest.mark.parametrize("command", ("",) + SUBCOMMANDS)
def test_every_command_has_help_and_exits_0(capsys, command):
    code, out, _ = run(capsys, *([command] if command else []), "--help")
    assert code == 0
    assert out.startswith("usage: twd-lab")


def test_help_imports_neither_numpy_nor_tensorflow():
    code = (
        "import sys; from twd_lab.cli import build_parser; build_parser().format_help(); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "False"]


def test_usage_errors_are_one_line_with_exit_status_2(capsys):
    for argv in (["frob"], ["detect"], ["detect", "x.wav", "--threshold", "2"], ["synth", "-m", "0"]):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        (line,) = error_lines(err)
        assert line.startswith("twd-lab: error: ") and "--help" in line


def test_no_command_prints_the_help_with_exit_status_2(capsys):
    code, out, err = run(capsys)
    assert code == 2 and err == ""
    assert out.startswith("usage: twd-lab") and "detect" in out and "personalize" in out


def test_python_m_twd_lab_is_the_command_and_detect_leaves_tensorflow_unloaded(wav_file):
    from conftest import skip_without_embedding_detector

    done = subprocess.run(
        [sys.executable, "-m", "twd_lab", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("twd-lab ")
    skip_without_embedding_detector()
    clip = wav_file(noise(1.0))
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['twd_lab', 'detect', {str(clip)!r}, '--json']\n"
        "try:\n"
        "    runpy.run_module('twd_lab', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as stop:\n"
        "    print('exit', stop.code, 'tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    record, last = done.stdout.splitlines()
    assert json.loads(record)["duration_s"] == 1.0
    assert last == "exit 0 False", done.stderr


def test_the_parser_knows_the_documented_options():
    help_text = {
        c: build_parser()._subparsers._group_actions[0].choices[c].format_help() for c in SUBCOMMANDS
    }
    for option in ("--model", "--threshold", "--patience", "--refractory", "--chime", "--json"):
        assert option in help_text["detect"]
    for option in ("--out", "--seed"):
        assert option in help_text["demo"]
    for option in ("--out", "-m", "--seed", "--raw"):
        assert option in help_text["synth"]
    for option in ("--data", "--epochs", "--batch-size", "--out"):
        assert option in help_text["train"]
    for option in ("--raw", "-n", "--seed", "--detector", "--model", "--head", "--talk-hours", "--json"):
        assert option in help_text["evaluate"]


# ------------------------------------------------------------------------------------- detect

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from test_detection import decisive_model

    path = tmp_path_factory.mktemp("model") / "model.keras"
    decisive_model(seed=2).save(path)
    return path


@pytest.fixture
def speech(wav_file):
    from test_detection import speechy

    return wav_file(speechy(3.0, seed=4), "i16", name="speech.wav")


def snapshot(path):
    return path.read_bytes(), os.stat(path).st_mtime_ns


@pytest.mark.slow
def test_detect_json_is_one_object_per_file_in_the_documented_form(capsys, model_file, speech, wav_file):
    from twd_lab.detection import detect_triggerword, triggers

    x = noise(1.5, sr=22_050, seed=9)
    other = wav_file(np.stack([x, x], axis=1), "f32", 22_050, "other.wav")
    code, out, err = run(capsys, "detect", str(speech), str(other), "--model", str(model_file), "--json")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    for record, path, seconds in zip(records, (speech, other), (3.0, 1.5)):
        assert set(record) == {"file", "duration_s", "triggers"}
        assert record["file"] == str(path)
        assert isinstance(record["duration_s"], float) and record["duration_s"] == pytest.approx(
            seconds, abs=1e-3
        )
        for t in record["triggers"]:
            assert set(t) == {"time_s", "score"}
            assert isinstance(t["time_s"], float) and isinstance(t["score"], float)
    # --no-pad hears the file bare, exactly as the lab's functions do
    code, out, err = run(capsys, "detect", str(speech), "--model", str(model_file), "--json", "--no-pad")
    assert code == 0, err
    expected = triggers(detect_triggerword(speech, str(model_file)))
    assert [(t["time_s"], t["score"]) for t in json.loads(out)["triggers"]] == [tuple(t) for t in expected]


@pytest.mark.slow
def test_detect_firing_rule_options_change_the_answer(capsys, model_file, speech):
    base = ["detect", str(speech), "--model", str(model_file), "--json"]
    counts = []
    for extra in ([], ["--threshold", "0.99"], ["--patience", "40"], ["--refractory", "0"]):
        code, out, _ = run(capsys, *base, *extra)
        assert code == 0
        counts.append(len(json.loads(out)["triggers"]))
    assert counts[1] <= counts[0] and counts[2] <= counts[0] <= counts[3]


@pytest.mark.slow
def test_detect_reports_each_bad_file_in_one_line_and_goes_on(capsys, model_file, speech, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "text.wav"
    text.write_text("not audio")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(speech.read_bytes()[:3000])
    bad = [empty, text, truncated, tmp_path / "missing.wav", tmp_path]
    before = {p: snapshot(p) for p in bad[:3] + [speech]}
    code, out, err = run(capsys, "detect", *map(str, bad), str(speech), "--model", str(model_file), "--json")
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == len(bad) + 1  # one per bad file, then the summary
    assert all(line.startswith("twd-lab: error: ") for line in lines)
    assert "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]  # one per file, in order, failed ones too
    assert [r["file"] for r in records] == [str(p) for p in bad] + [str(speech)]
    assert [line.removeprefix("twd-lab: error: ") for line in lines[:-1]] == [
        r["error"] for r in records[:-1]
    ]
    assert "triggers" in records[-1] and "error" not in records[-1]
    assert {p: snapshot(p) for p in before} == before


@pytest.mark.slow
def test_detect_a_too_short_or_silent_file_is_a_correct_empty_answer(capsys, model_file, wav_file):
    short = wav_file(tone(0.02), "i16", name="short.wav")
    silent = wav_file(np.zeros(SR, np.float32), "i16", name="silent.wav")
    argv = ["detect", str(short), str(silent), "--model", str(model_file), "--json"]
    code, out, err = run(capsys, *argv, "--no-pad")  # bare: 20 ms is shorter than one output step
    assert code == 0, err
    short_rec, silent_rec = (json.loads(line) for line in out.splitlines())
    assert short_rec["triggers"] == [] and short_rec["duration_s"] == 0.02
    assert silent_rec["duration_s"] == 1.0
    code, out, err = run(capsys, *argv)  # padded: heard, with times inside the padded span
    assert code == 0, err
    for record in map(json.loads, out.splitlines()):
        assert all(0 <= t["time_s"] <= record["duration_s"] + 1.0 for t in record["triggers"])


@pytest.mark.slow
def test_detect_chime_writes_a_new_file_and_never_the_input(capsys, model_file, speech, tmp_path):
    before = snapshot(speech)
    out_wav = tmp_path / "chimed.wav"
    code, out, err = run(capsys, "detect", str(speech), "--model", str(model_file), "--chime", str(out_wav))
    assert code == 0, err
    assert out_wav.is_file() and str(out_wav) in out
    code, _, err = run(capsys, "detect", str(speech), "--model", str(model_file), "--chime", str(out_wav))
    assert code == 1 and "exists" in err and len(error_lines(err)) == 1  # refused before any detection
    code, _, err = run(capsys, "detect", str(speech), "--model", str(model_file), "--chime", str(speech))
    assert code == 1 and "input" in err
    assert (
        run(
            capsys, "detect", str(speech), "--model", str(model_file), "--chime", str(out_wav), "--overwrite"
        )[0]
        == 0
    )
    assert snapshot(speech) == before


@pytest.mark.slow
def test_detect_with_several_files_writes_chimes_into_a_folder(
    capsys, model_file, speech, wav_file, tmp_path
):
    other = wav_file(tone(1.0), "i16", name="other.wav")
    folder = tmp_path / "chimes"
    folder.mkdir()
    code, _, err = run(
        capsys, "detect", str(speech), str(other), "--model", str(model_file), "--chime", str(folder)
    )
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["other_chimed.wav", "speech_chimed.wav"]


def test_a_missing_model_is_one_line_and_exit_1(capsys, speech, tmp_path):
    code, out, err = run(capsys, "detect", str(speech), "--model", str(tmp_path / "none.keras"))
    assert code == 1 and out == ""
    (line,) = error_lines(err)
    assert line.startswith("twd-lab: error: ") and "none.keras" in line


@pytest.mark.parametrize("command", ["detect", "demo"])
def test_a_model_that_is_a_folder_says_so(capsys, speech, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    argv = ["detect", str(speech)] if command == "detect" else ["demo", "--out", str(tmp_path / "demo")]
    code, out, err = run(capsys, *argv, "--model", "adir")
    assert code == 1 and out == ""
    (line,) = error_lines(err)
    assert line == "twd-lab: error: --model: adir is a folder, not a .keras model file"
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["detect", "demo"])
def test_a_model_that_is_not_the_lab_network_is_one_line(capsys, speech, tmp_path, command):
    import keras

    inputs = keras.Input((16, 96))  # shaped like the speech-embedding head, not like the lab network
    other = tmp_path / "head.keras"
    keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs))).save(other)
    argv = ["detect", str(speech)] if command == "detect" else ["demo", "--out", str(tmp_path / "demo")]
    code, out, err = run(capsys, *argv, "--model", str(other))
    assert code == 1 and out == ""
    (line,) = error_lines(err)
    assert line.startswith(f"twd-lab: error: --model: {other} is not the lab network: it has no layer named")
    assert not (tmp_path / "demo").exists()


def test_a_model_file_that_is_not_a_model_is_one_line(capsys, speech, tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    code, _, err = run(capsys, "detect", str(speech), "--model", str(junk))
    assert code == 1
    (line,) = error_lines(err)
    assert line.startswith("twd-lab: error: ")


# ----------------------------------------------------------------------------------------- demo


@pytest.mark.slow
def test_demo_writes_into_a_new_folder_each_time_and_never_overwrites(
    capsys, model_file, tmp_path, monkeypatch
):
    pytest.importorskip("twd_lab.assets_index").bundled_raw_dir("heldout")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--model", str(model_file), "--seed", "1")
    assert code == 0, err
    first = tmp_path / "twd-lab-demo"
    assert sorted(p.name for p in first.iterdir()) == [
        "chimed.wav",
        "detection.png",
        "example.wav",
        "summary.json",
    ]
    assert "activate" in out and "jupyter lab" in out and "detection.png" in out
    assert "twd-lab detect me.wav" in out  # where to go next with a real voice
    summary = json.loads((first / "summary.json").read_text())
    assert len(summary["activates_ms"]) == 2 and summary["seed"] == 1
    stamp = snapshot(first / "example.wav")
    code, out, _ = run(capsys, "demo", "--model", str(model_file), "--seed", "1")
    assert code == 0 and (tmp_path / "twd-lab-demo-2" / "detection.png").is_file()
    assert snapshot(first / "example.wav") == stamp
    code, _, err = run(capsys, "demo", "--model", str(model_file), "--out", str(first))
    assert code == 1 and error_lines(err)[0].startswith("twd-lab: error: ")


def test_demo_without_a_model_fails_before_writing_anything(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "demo", "--model", str(tmp_path / "missing.keras"))
    assert code == 1 and len(error_lines(err)) == 1
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- synth, train, evaluate


def test_synth_builds_a_dataset(capsys, raw_folder, tmp_path):
    out = tmp_path / "data"
    code, stdout, err = run(
        capsys,
        "synth",
        "--out",
        str(out),
        "-m",
        "3",
        "--seed",
        "1",
        "--raw",
        str(raw_folder),
        "--workers",
        "1",
        "--quiet",
    )
    assert code == 0, err
    assert (out / "manifest.json").is_file() and "3 examples" in stdout
    from twd_lab.dataset import load_dataset

    assert len(load_dataset(out)) == 3


def test_synth_replaces_an_earlier_dataset_only_with_overwrite(capsys, raw_folder, tmp_path):
    out = tmp_path / "data"
    argv = ["synth", "--out", str(out), "-m", "1", "--raw", str(raw_folder), "--workers", "1", "--quiet"]
    assert run(capsys, *argv)[0] == 0
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stdout, err = run(capsys, *argv[:4], "2", *argv[5:])
    assert code == 1 and stdout == ""
    (line,) = error_lines(err)
    assert line.startswith(f"twd-lab: error: --out: {out} already holds a twd-lab dataset; pass --overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    code, stdout, err = run(capsys, *argv[:4], "2", *argv[5:], "--overwrite")
    assert code == 0, err
    from twd_lab.dataset import load_dataset

    assert len(load_dataset(out)) == 2 and (out / "notes.txt").read_text() == "mine"


def test_synth_refuses_a_folder_that_is_not_a_dataset(capsys, raw_folder, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run(
        capsys, "synth", "--out", str(tmp_path), "-m", "1", "--raw", str(raw_folder), "--quiet"
    )
    assert code == 1 and len(error_lines(err)) == 1
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_train_saves_a_model_that_detect_can_use(capsys, raw_folder, tmp_path, speech):
    out = tmp_path / "tiny.keras"
    argv = ["train", "--raw", str(raw_folder), "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
            "--dev-clips", "2", "--out", str(out), "--quiet"]  # fmt: skip
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert out.is_file() and "saved" in stdout
    assert "trained 1 epoch(s)" in stdout and ("(epoch 1)" in stdout or "best dev F1" not in stdout)
    code, _, err = run(capsys, *argv)
    assert code == 1 and "exists" in err
    code, stdout, _ = run(capsys, "detect", str(speech), "--model", str(out), "--json")
    assert code == 0 and json.loads(stdout)["duration_s"] == 3.0


@pytest.mark.slow
def test_evaluate_reports_event_metrics_as_json(capsys, raw_folder, model_file):
    code, out, err = run(
        capsys,
        "evaluate",
        "--raw",
        str(raw_folder),
        "-n",
        "3",
        "--seed",
        "2",
        "--model",
        str(model_file),
        "--json",
        "--quiet",
    )
    assert code == 0, err
    report = json.loads(out)
    for key in ("precision", "recall", "f1", "false_accepts_per_hour", "miss_rate", "frame_accuracy", "det"):
        assert key in report
    # --model picks the lab network, as in detect, with the lab's firing rule
    assert report["n_clips"] == 3 and report["detector"] == "lab"
    assert (report["threshold"], report["patience"], report["refractory"]) == (0.5, 1, 75)
    code, out, _ = run(
        capsys, "evaluate", "--raw", str(raw_folder), "-n", "2", "--model", str(model_file), "--quiet"
    )
    assert code == 0 and out.startswith("| detector | test set |") and "| lab | " in out


def test_listen_without_sounddevice_is_one_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    code, _, err = run(capsys, "listen", "--seconds", "1")
    assert code == 1
    (line,) = error_lines(err)
    assert line.startswith("twd-lab: error: ") and "pip install sounddevice" in line
