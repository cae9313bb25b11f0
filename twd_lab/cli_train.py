"""``twd-lab train``: refusals before any work, a checkpoint after every epoch, and ``--resume``.

Everything a user can get wrong is checked before TensorFlow loads (:func:`train_setup`): the output, an
earlier run's checkpoints (offered for resuming), a checkpoint folder to resume from. Training itself is
:func:`twd_lab.training.train`, which writes ``last.keras`` and ``state.json`` after every epoch and stops
on a non-finite loss; Ctrl-C says where the last finished epoch is and how to go on (before the first, it
leaves nothing behind that would stop the same command from running again). With ``--overwrite`` an earlier
run's checkpoints are set aside, not deleted, until the new run's first epoch is saved: Ctrl-C or a crash
before then puts them back as they were.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from twd_lab.cli import PROG, _quiet_tensorflow, as_option

__all__ = [
    "RESUMED",
    "cmd_train",
    "forget_unfinished_run",
    "put_back_earlier_run",
    "set_aside_earlier_run",
    "train_setup",
]

#: The options a resumed run takes from the interrupted one (state.json), so it goes on with the same data.
RESUMED = ("data", "raw", "batch_size", "steps_per_epoch", "learning_rate", "seed", "dev_clips", "no_augment")


def train_setup(args) -> tuple[Path, Path, dict | None]:
    """``(out, checkpoint folder, resumed state or None)`` for ``train``, every refusal before any work."""
    from twd_lab.checkpoint_files import read_checkpoint_state

    state = None
    if args.resume is not None:
        from twd_lab.cli_files import check_folder

        check_folder(Path(args.resume), "--resume")
        state = read_checkpoint_state(args.resume)
        for key in RESUMED:
            setattr(args, key, state["options"][key])
        if args.out is None:
            args.out = state["options"]["out"]
        if state["epochs_done"] >= args.epochs:
            raise ValueError(
                f"{args.resume} already holds {state['epochs_done']} epoch(s); ask for more with --epochs"
            )
    if args.data is not None:
        _check_data(Path(args.data))
    out = Path(args.out or "model.keras")
    if out.suffix != ".keras":
        raise ValueError(f"--out must be a .keras file, got {out}")
    if out.is_dir():
        raise IsADirectoryError(f"--out: {out} is a folder; give a .keras file name")
    _no_file_above(out, "--out")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} already exists; choose another --out or pass --overwrite")
    if args.resume is not None:
        return out, Path(args.resume), state
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else out.with_name(f"{out.stem}_checkpoints")
    what = "--checkpoint-dir" if args.checkpoint_dir else f"--out: its checkpoint folder {ckpt}"
    if ckpt.exists() and not ckpt.is_dir():
        raise NotADirectoryError(
            f"{what}: {ckpt} is a file, not a folder"
            if args.checkpoint_dir
            else f"{what} is a file; choose another folder with --checkpoint-dir"
        )
    _no_file_above(ckpt, "--checkpoint-dir" if args.checkpoint_dir else "--out")
    from twd_lab.checkpoint_files import BEST_NAME, HISTORY_NAME, LAST_NAME, STATE_NAME

    existing = [n for n in (BEST_NAME, LAST_NAME, STATE_NAME) if (ckpt / n).exists()]
    if (ckpt / HISTORY_NAME).exists() and (existing or _has_epochs(ckpt / HISTORY_NAME)):
        existing.append(HISTORY_NAME)  # alone and without an epoch: a run killed in its first epoch
    if existing and not args.overwrite:
        raise FileExistsError(
            f"{ckpt} already holds {', '.join(existing)} of an earlier run: pass --resume {ckpt} to go on "
            "with it, --overwrite to start again, or choose another --checkpoint-dir"
        )
    return out, ckpt, None


def _check_data(data: Path) -> None:
    """``--data`` is a dataset folder from ``twd-lab synth``, or a one-line error saying how to make one."""
    from twd_lab.dataset_folder import MANIFEST

    make = f"make one with `{PROG} synth --out FOLDER`"
    if data.is_dir():
        if not (data / MANIFEST).is_file():
            raise FileNotFoundError(f"--data: {data} holds no twd-lab dataset ({MANIFEST}); {make}")
        return
    if data.exists():
        raise NotADirectoryError(f"--data: {data} is a file, not a dataset folder; {make}")
    raise FileNotFoundError(
        f"--data: the folder {data} does not exist; make a dataset there with `{PROG} synth --out {data}`"
    )


def _no_file_above(path: Path, option: str) -> None:
    """Refuse ``path`` when a folder it would be made in is a file (found before training, not after)."""
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise NotADirectoryError(f"{option}: {above} is a file, not a folder")


def _has_epochs(history: Path) -> bool:
    """Whether a ``history.csv`` holds a row for a finished epoch (not just its header, or nothing)."""
    try:
        return len(history.read_text().splitlines()) > 1
    except (OSError, UnicodeDecodeError):
        return True  # unreadable: treat it as a run's, never replace it unasked


def forget_unfinished_run(ckpt: Path, made: list[Path]) -> None:
    """After Ctrl-C before any epoch finished: remove what the run left that would block running it again,
    a ``history.csv`` without a row and the folders it made, once empty; nothing else is touched."""
    from twd_lab.checkpoint_files import HISTORY_NAME

    history = ckpt / HISTORY_NAME
    try:
        if history.is_file() and not _has_epochs(history):
            history.unlink()
    except OSError:
        return
    for folder in made:  # the deepest first
        try:
            folder.rmdir()  # only an empty folder: a file of the user's keeps it
        except OSError:
            return


def _run_files() -> tuple[str, ...]:
    from twd_lab.checkpoint_files import BEST_NAME, HISTORY_NAME, LAST_NAME, STATE_NAME

    return (BEST_NAME, LAST_NAME, STATE_NAME, HISTORY_NAME)


def set_aside_earlier_run(ckpt: Path) -> Path | None:
    """Before a fresh run (``--overwrite``) in a folder holding an earlier run's checkpoints: move them into
    a hidden folder ``.earlier_run_*`` inside ``ckpt`` and return it (None when there are none)."""
    names = [n for n in _run_files() if (ckpt / n).is_file()]
    if not names:
        return None
    aside = Path(tempfile.mkdtemp(prefix=".earlier_run_", dir=ckpt))
    for name in names:
        os.replace(ckpt / name, aside / name)
    return aside


def put_back_earlier_run(aside: Path | None, ckpt: Path, *, keep_new: bool) -> None:
    """Settle what :func:`set_aside_earlier_run` moved: deleted once the new run has saved an epoch
    (``keep_new``), else moved back over whatever the new run left."""
    if aside is None:
        return
    if keep_new:
        shutil.rmtree(aside, ignore_errors=True)
        return
    for name in _run_files():
        if (aside / name).is_file():
            os.replace(aside / name, ckpt / name)
    try:
        aside.rmdir()
    except OSError:
        pass


def cmd_train(args) -> int:
    out, ckpt, state = train_setup(args)
    _quiet_tensorflow()
    import keras

    from twd_lab.evaluation import build_test_set
    from twd_lab.layers import log_power_prior
    from twd_lab.models import build_model, check_finite_weights, compile_model, load_model
    from twd_lab.training import LAST_NAME, ArrayDataset, OnTheFlyDataset, train

    keras.utils.set_random_seed(args.seed + (0 if state is None else state["epochs_done"]))
    if args.data is not None:
        try:
            data = ArrayDataset.from_shards(args.data, args.batch_size, seed=args.seed)
        except (ValueError, OSError) as err:
            raise as_option(err, "out_dir", "--data") from None
    else:
        try:
            data = OnTheFlyDataset(
                args.raw, args.steps_per_epoch, args.batch_size, seed=args.seed, augment=not args.no_augment
            )
        except (ValueError, OSError) as err:
            raise as_option(err, "path", "--raw") from None
    if state is None:
        mu0, sigma0 = log_power_prior(data[0][0])  # the input normalisation's prior, from one batch
        model = build_model("functional", norm_config={"mu0": mu0.tolist(), "sigma0": sigma0.tolist()})
        compile_model(model, learning_rate=args.learning_rate)
        done = 0
    else:
        model = load_model(ckpt / LAST_NAME, compile=True)  # with its optimizer's state
        done = state["epochs_done"]
        for _ in range(done):  # the data goes on where it stopped
            data.on_epoch_end()
        print(f"resuming from epoch {done} of {args.epochs} in {ckpt}", flush=True)
    dev = build_test_set(args.raw or "train", args.dev_clips, seed=10_000 + args.seed)  # picks the best epoch
    options = {key: getattr(args, key) for key in RESUMED}
    made = [folder for folder in (ckpt, *ckpt.parents) if not folder.exists()]  # train() creates these
    last = ckpt / LAST_NAME
    # --overwrite over an earlier run: its files wait aside until this run saves its first epoch
    aside = set_aside_earlier_run(ckpt) if state is None and ckpt.is_dir() else None
    last_before = last.stat().st_mtime_ns if last.is_file() else None

    def saved_an_epoch() -> bool:  # this run wrote last.keras
        return last.is_file() and last.stat().st_mtime_ns != last_before

    print(
        f"a checkpoint after every epoch in {ckpt} (after Ctrl-C: {PROG} train --resume {ckpt})", flush=True
    )
    try:
        history = train(
            model,
            train_data=data,
            val_data=dev,
            epochs=args.epochs,
            batch_size=args.batch_size,
            checkpoint_dir=ckpt,
            overwrite=True,  # train_setup refused an earlier run's files unless --overwrite or --resume
            time_limit_s=None if args.time_limit_min is None else args.time_limit_min * 60,
            progress="epoch" if args.quiet else True,
            initial_epoch=done,
            initial_best=None if state is None else state.get("best_value"),
            checkpoint_meta={"options": {**options, "out": str(out)}},
        )
    except KeyboardInterrupt:
        saved = saved_an_epoch()
        if not saved:
            forget_unfinished_run(ckpt, made)
        put_back_earlier_run(aside, ckpt, keep_new=saved)
        if saved:
            print(
                f"{PROG}: interrupted; the last finished epoch is saved in {last}. Go on with: "
                f"{PROG} train --resume {ckpt}" + (f" --epochs {args.epochs}" if args.epochs != 10 else ""),
                file=sys.stderr,
            )
        else:
            kept = "" if aside is None else f"; the earlier run's checkpoints in {ckpt} are as they were"
            print(
                f"{PROG}: interrupted before the first epoch finished; nothing was saved{kept}",
                file=sys.stderr,
            )
        return 130
    except BaseException:
        put_back_earlier_run(aside, ckpt, keep_new=saved_an_epoch())
        raise
    put_back_earlier_run(aside, ckpt, keep_new=saved_an_epoch())  # a run stopped by a NaN may have saved none
    check_finite_weights(model, "the trained model")  # never saved with NaN weights
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    best = (
        ""
        if history.best_value is None
        else f"; best dev F1 {history.best_value:.3f} (epoch {history.best_epoch})"
    )
    print(f"trained {len(history.epoch)} epoch(s){best}; saved {out} (checkpoints in {ckpt})")
    print(f"try it: {PROG} detect FILE.wav --model {out}")
    return 0
