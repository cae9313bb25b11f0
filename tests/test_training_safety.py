"""Training with careless input: bad hyper-parameters refused at the door, a non-finite loss stops with the
epoch and the reason, no NaN model is ever saved or loaded, and every epoch leaves a checkpoint to resume
from (issue 15, items 5 and 16; item 11's model files)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from conftest import run_cli

keras = pytest.importorskip("keras")

from twd_lab.constants import N_FREQ
from twd_lab.evaluation import TestSet
from twd_lab.models import check_finite_weights, compile_model, load_model
from twd_lab.training import (
    LAST_NAME,
    STATE_NAME,
    NonFiniteTraining,
    read_checkpoint_state,
    train,
)

run = run_cli


def tiny_model(learning_rate=1e-2):
    """Frames (n, T, 101) -> probabilities (n, steps, 1) with the lab's kernel and stride; 1,516 weights."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((None, N_FREQ)), keras.layers.Conv1D(1, 15, strides=4, activation="sigmoid")]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    return model


def toy(n=4, frames=120):
    rng = np.random.default_rng(0)
    x = rng.random((n, frames, N_FREQ)).astype("float32")
    y = np.zeros((n, (frames - 15) // 4 + 1, 1), "float32")
    y[:, 10:14] = 1
    return x, y, TestSet(x[:1], y[:1], [[0.5]], "toy", 0)


def fit(model, folder, *, epochs, **kwargs):
    """``train`` on the toy data, checkpoints in ``folder``, quietly, without early stopping."""
    x, y, dev = toy()
    kwargs.setdefault("batch_size", 2)
    return train(
        model,
        train_data=(x, y),
        val_data=dev,
        epochs=epochs,
        checkpoint_dir=folder,
        progress=False,
        early_stopping_patience=None,
        **kwargs,
    )


class Once(keras.callbacks.Callback):
    """Calls ``action(model)`` when epoch ``epoch`` (0-based) begins."""

    def __init__(self, epoch, action):
        super().__init__()
        self.at, self.action = epoch, action

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            self.action(self.model)


@pytest.mark.parametrize("bad", ["nan", "-1", "0", "inf"])
def test_train_refuses_a_bad_learning_rate_at_the_door(capsys, bad, tmp_path):
    code, _, err = run(capsys, "train", "--learning-rate", bad, "--out", str(tmp_path / "m.keras"))
    assert code == 2
    (line,) = err.splitlines()
    assert "--learning-rate" in line and "expected a finite number > 0" in line
    assert list(tmp_path.iterdir()) == []


def test_compile_model_refuses_a_bad_learning_rate():
    for bad in (float("nan"), -1.0, 0.0, float("inf")):
        with pytest.raises(ValueError, match="learning_rate must be a finite number"):
            compile_model(tiny_model(), learning_rate=bad)


def test_a_nan_learning_rate_stops_training_with_the_epoch_and_saves_nothing(tmp_path):
    model = tiny_model(learning_rate=float("nan"))  # past compile_model's check, as a user could
    with pytest.raises(NonFiniteTraining, match=r"epoch 1: the loss became nan at batch 2"):
        fit(model, tmp_path, epochs=3, batch_size=1)
    assert list(tmp_path.glob("*.keras")) == []  # no best.keras, no last.keras: nothing NaN was saved


def test_weights_gone_non_finite_stop_training_and_keep_the_last_good_epoch(tmp_path):
    model = tiny_model()

    def poison(m):
        kernel = m.layers[0].kernel
        kernel.assign(np.full(kernel.shape, np.inf, "float32"))

    with pytest.raises(NonFiniteTraining, match=rf"epoch 2: .*saved in {tmp_path / LAST_NAME}"):
        fit(model, tmp_path, epochs=3, callbacks=[Once(1, poison)])
    assert read_checkpoint_state(tmp_path)["epochs_done"] == 1
    check_finite_weights(keras.saving.load_model(tmp_path / LAST_NAME), "last.keras")


def test_a_model_with_nan_weights_is_refused_on_loading(tmp_path):
    model = tiny_model()
    model.layers[0].bias.assign(np.array([np.nan], "float32"))
    model.save(tmp_path / "nan.keras")
    with pytest.raises(ValueError, match=r"nan\.keras has NaN or infinite weights"):
        load_model(tmp_path / "nan.keras")


def test_a_file_that_is_not_a_model_says_so(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    with pytest.raises(ValueError, match=r"junk\.keras is not a Keras model \(a \.keras file is a zip"):
        load_model(junk)
    with zipfile.ZipFile(tmp_path / "zip.keras", "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"zip\.keras cannot be loaded as a Keras model: "):
        load_model(tmp_path / "zip.keras")


def test_every_epoch_leaves_a_checkpoint_to_resume_from_even_when_interrupted(tmp_path):
    model = tiny_model()

    def interrupt(m):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            tmp_path,
            epochs=5,
            callbacks=[Once(2, interrupt)],
            checkpoint_meta={"options": {"seed": 7}},
        )
    state = read_checkpoint_state(tmp_path)
    assert state["epochs_done"] == 2 and state["options"] == {"seed": 7}
    resumed = keras.saving.load_model(tmp_path / LAST_NAME)
    history = fit(
        resumed,
        tmp_path,
        epochs=4,
        overwrite=True,
        initial_epoch=state["epochs_done"],
        initial_best=state["best_value"],
    )
    assert history.epoch == [2, 3]
    assert read_checkpoint_state(tmp_path)["epochs_done"] == 4
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 4


def test_resume_without_a_finished_epoch_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--resume", str(tmp_path))
    assert code == 1
    (line,) = err.splitlines()
    assert "no finished epoch to resume from" in line


def test_an_earlier_run_is_offered_for_resuming(capsys, tmp_path):
    ckpt = tmp_path / "model_checkpoints"
    ckpt.mkdir()
    (ckpt / STATE_NAME).write_text(json.dumps({"epochs_done": 1}))
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "model.keras"))
    assert code == 1
    assert f"--resume {ckpt}" in err and "--overwrite" in err


@pytest.mark.slow
def test_ctrl_c_in_train_says_where_the_checkpoint_is(capsys, tmp_path, monkeypatch):
    def interrupted(model, **kwargs):
        kwargs["checkpoint_dir"].mkdir()
        model.save(kwargs["checkpoint_dir"] / LAST_NAME)  # as if an epoch had finished
        raise KeyboardInterrupt

    monkeypatch.setattr("twd_lab.training.train", interrupted)
    out = tmp_path / "m.keras"
    code, _, err = run(
        capsys,
        "train",
        "--out",
        str(out),
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "1",
        "--dev-clips",
        "1",
        "--no-augment",
        "--quiet",
    )
    assert code == 130 and not out.exists()
    (line,) = err.splitlines()
    ckpt = tmp_path / "m_checkpoints"
    assert f"saved in {ckpt / LAST_NAME}" in line and f"twd-lab train --resume {ckpt}" in line


class InterruptFirstBatch(keras.callbacks.Callback):
    """Ctrl-C before the first batch: no epoch of the run finishes."""

    def on_train_batch_begin(self, batch, logs=None):
        raise KeyboardInterrupt


def interrupt_before_the_first_epoch(monkeypatch):
    """``twd-lab train`` runs the real :func:`train` (its CSVLogger and checkpoints), stopped by Ctrl-C."""
    import twd_lab.training

    real = twd_lab.training.train
    monkeypatch.setattr(
        "twd_lab.training.train", lambda model, **kw: real(model, callbacks=[InterruptFirstBatch()], **kw)
    )


SMALL = ("--steps-per-epoch", "1", "--batch-size", "1", "--dev-clips", "1", "--no-augment", "--quiet")


@pytest.mark.slow
def test_ctrl_c_before_the_first_epoch_leaves_nothing_that_blocks_a_rerun(capsys, tmp_path, monkeypatch):
    interrupt_before_the_first_epoch(monkeypatch)
    out = tmp_path / "deeper" / "m.keras"  # train() makes deeper/ and deeper/m_checkpoints/
    for _ in range(2):  # the same command again: interrupted again, not refused
        code, _, err = run(capsys, "train", "--out", str(out), *SMALL)
        assert code == 130, err
        (line,) = err.splitlines()
        assert "interrupted before the first epoch finished; nothing was saved" in line
        assert list(tmp_path.iterdir()) == []  # neither the empty history.csv nor the folders it made


@pytest.mark.slow
def test_ctrl_c_before_the_first_epoch_keeps_the_users_files(capsys, tmp_path, monkeypatch):
    interrupt_before_the_first_epoch(monkeypatch)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    argv = ("train", "--out", str(tmp_path / "m.keras"), "--checkpoint-dir", str(mine), *SMALL)
    for _ in range(2):
        code, _, err = run(capsys, *argv)
        assert code == 130 and "nothing was saved" in err
        assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (
            mine / "notes.txt"
        ).read_text() == "mine"


def earlier_run(ckpt):
    """An earlier run's checkpoint files (their bytes stand for the real thing)."""
    ckpt.mkdir(parents=True, exist_ok=True)
    files = {
        "best.keras": b"earlier best",
        LAST_NAME: b"earlier last",
        STATE_NAME: b'{"epochs_done": 3}',
        "history.csv": b"epoch,loss\n0,0.5\n1,0.4\n2,0.3\n",
    }
    for name, data in files.items():
        (ckpt / name).write_bytes(data)
    return files


@pytest.mark.slow
def test_ctrl_c_before_the_first_epoch_with_overwrite_puts_the_earlier_run_back(
    capsys, tmp_path, monkeypatch
):
    interrupt_before_the_first_epoch(monkeypatch)
    ckpt = tmp_path / "m_checkpoints"
    files = earlier_run(ckpt)
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "m.keras"), "--overwrite", *SMALL)
    assert code == 130, err
    assert "nothing was saved; the earlier run's checkpoints" in err and "as they were" in err
    assert {p.name: p.read_bytes() for p in ckpt.iterdir()} == files  # and no folder set aside is left


@pytest.mark.slow
def test_once_an_epoch_is_saved_overwrite_drops_the_earlier_run(capsys, tmp_path, monkeypatch):
    def one_epoch_then_ctrl_c(model, **kwargs):
        model.save(kwargs["checkpoint_dir"] / LAST_NAME)  # as if the new run's first epoch had finished
        raise KeyboardInterrupt

    monkeypatch.setattr("twd_lab.training.train", one_epoch_then_ctrl_c)
    ckpt = tmp_path / "m_checkpoints"
    earlier_run(ckpt)
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "m.keras"), "--overwrite", *SMALL)
    assert code == 130 and f"saved in {ckpt / LAST_NAME}" in err
    assert [p.name for p in ckpt.iterdir()] == [LAST_NAME]  # the new run's epoch; nothing of the earlier run
    load_model(ckpt / LAST_NAME)


def test_set_aside_and_put_back_leave_other_files_alone(tmp_path):
    from twd_lab.cli_train import put_back_earlier_run, set_aside_earlier_run

    assert set_aside_earlier_run(tmp_path) is None  # nothing of a run: nothing moved
    (tmp_path / "notes.txt").write_text("mine")
    files = earlier_run(tmp_path)
    aside = set_aside_earlier_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["notes.txt", aside.name])
    (tmp_path / "history.csv").write_text("epoch,loss\n")  # what a new run writes first
    put_back_earlier_run(aside, tmp_path, keep_new=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "notes.txt"} == files
    aside = set_aside_earlier_run(tmp_path)
    put_back_earlier_run(aside, tmp_path, keep_new=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_forget_unfinished_run_keeps_a_history_with_epochs(tmp_path):
    from twd_lab.cli_train import forget_unfinished_run

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "history.csv").write_text("epoch,loss\n0,0.5\n")
    forget_unfinished_run(ckpt, [ckpt])
    assert (ckpt / "history.csv").read_text() == "epoch,loss\n0,0.5\n"
    (ckpt / "history.csv").write_text("")
    forget_unfinished_run(ckpt, [ckpt])
    assert not ckpt.exists()


@pytest.mark.slow
def test_train_resumes_an_interrupted_run_from_its_checkpoint(capsys, tmp_path):
    out = tmp_path / "m.keras"
    small = ("--steps-per-epoch", "1", "--batch-size", "1", "--dev-clips", "1", "--no-augment", "--quiet")
    code, _, err = run(capsys, "train", "--out", str(out), "--epochs", "1", *small)
    assert code == 0, err
    out.unlink()  # as if the run had been stopped after its first epoch
    ckpt = tmp_path / "m_checkpoints"
    code, stdout, err = run(capsys, "train", "--resume", str(ckpt), "--epochs", "2", "--quiet")
    assert code == 0, err
    assert f"resuming from epoch 1 of 2 in {ckpt}" in stdout and out.is_file()
    assert read_checkpoint_state(ckpt)["epochs_done"] == 2
    assert len((ckpt / "history.csv").read_text().splitlines()) == 1 + 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ("--data", "ex.flac"),
            "--data: ex.flac is a file, not a dataset folder; make one with `twd-lab synth",
        ),
        (
            ("--data", "missing"),
            "--data: the folder missing does not exist; make a dataset there with `twd-lab synth --out missing`",
        ),
        (
            ("--data", "empty"),
            "--data: empty holds no twd-lab dataset (manifest.json); make one with `twd-lab synth",
        ),
        (("--resume", "missing"), "--resume: the folder missing does not exist"),
        (("--resume", "ex.flac"), "--resume: ex.flac is a file, not a folder"),
        (("--checkpoint-dir", "mine.wav"), "--checkpoint-dir: mine.wav is a file, not a folder"),
        (("--checkpoint-dir", "mine.wav/sub"), "--checkpoint-dir: mine.wav is a file, not a folder"),
        (("--out", "mine.wav/m.keras"), "--out: mine.wav is a file, not a folder"),
        (("--out", "folder.keras"), "--out: folder.keras is a folder; give a .keras file name"),
        (
            ("--out", "m.keras"),
            "--out: its checkpoint folder m_checkpoints is a file; choose another folder with --checkpoint-dir",
        ),
    ],
)
def test_train_refuses_wrong_paths_in_one_line_before_any_work(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    for name in ("ex.flac", "mine.wav", "m_checkpoints"):
        (tmp_path / name).write_bytes(b"the user's")
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder.keras").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr("twd_lab.cli_train._quiet_tensorflow", lambda: pytest.fail("work began"))
    code, out, err = run(capsys, "train", *argv)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"twd-lab: error: {expected}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "mine.wav").read_bytes() == b"the user's"


def test_a_rerun_accepts_the_epochless_history_of_a_killed_run(tmp_path):
    from twd_lab.cli import build_parser
    from twd_lab.cli_train import train_setup

    ckpt = tmp_path / "m_checkpoints"
    ckpt.mkdir()
    args = build_parser().parse_args(["train", "--out", str(tmp_path / "m.keras")])
    for history in ("", "epoch,accuracy,loss\n"):  # killed before the first epoch ended (no Ctrl-C to tidy)
        (ckpt / "history.csv").write_text(history)
        assert train_setup(args) == (tmp_path / "m.keras", ckpt, None)
    (ckpt / "history.csv").write_text("epoch,accuracy,loss\n0,0.9,0.3\n")
    with pytest.raises(FileExistsError, match="already holds history.csv of an earlier run"):
        train_setup(args)


def test_train_refusals_come_before_tensorflow_loads(tmp_path):
    import subprocess
    import sys

    (tmp_path / "m_checkpoints").mkdir()
    (tmp_path / "m_checkpoints" / STATE_NAME).write_text(json.dumps({"epochs_done": 1}))
    code = (
        "import sys\nfrom twd_lab.cli import main\n"
        f"status = main(['train', '--out', {str(tmp_path / 'm.keras')!r}])\n"
        "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.split() == ["1", "False", "False"]
    (line,) = done.stderr.splitlines()  # no TensorFlow start-up chatter before it
    assert line.startswith("twd-lab: error: ") and "--resume" in line
