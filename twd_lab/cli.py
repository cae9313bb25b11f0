"""The ``twd-lab`` command: a thin layer of argparse over the library.

    twd-lab demo       the whole pipeline on the bundled defaults, with files to open
    twd-lab detect     triggers in WAV files of any length (text or one JSON object per file)
    twd-lab listen     the microphone, chunk by chunk (optional: needs sounddevice)
    twd-lab synth      a training set on disk (twd_lab.dataset.build_dataset)
    twd-lab train      train the lab network (twd_lab.training.train) and save a .keras model
    twd-lab evaluate   event metrics of any detector on seeded test clips (twd_lab.evaluation), and talk
    twd-lab personalize  fine-tune the speech-embedding detector on your own recordings

Every command has ``--help``. Success exits 0; an error prints one line, ``twd-lab: error: ...``, and
exits 1 (2 for a bad command line). Nothing here imports NumPy or TensorFlow until a command needs them,
so ``twd-lab --help`` answers at once; ``demo`` and ``train`` load Keras, and ``detect``, ``listen`` and
``evaluate`` only with the lab network (or a head without a NumPy copy).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import zipfile
from pathlib import Path

from twd_lab.constants import DEV_CLIPS, PATIENCE, REFRACTORY, THRESHOLD

PROG = "twd-lab"
#: Errors a user can cause (a bad path, a broken file, a bad value): one line, no traceback.
EXPECTED_ERRORS = (ValueError, OSError, zipfile.BadZipFile, RuntimeError)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (``twd-lab: error: ...``) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{PROG}: error: {message} (see `{self.prog} --help`)\n")


class CommandError(Exception):
    """An error already reported (one line each); the command exits 1, adding its message as one more
    line when it has one."""


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its start-up chatter (oneDNN, CPU features, absl) kept off the terminal.

    ``TF_CPP_MIN_LOG_LEVEL`` only works if set before Python starts, so the C-level stderr is pointed at
    /dev/null for the import and flushed before it is restored. Python exceptions still surface.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ.get("TWD_LAB_VERBOSE_TF"):
        return
    import ctypes
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            try:
                ctypes.CDLL(None).fflush(None)
            except (OSError, AttributeError):
                pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def as_option(err: BaseException, api_name: str, option: str) -> BaseException:
    """``err`` with its message in command-line words: a leading ``api_name:`` (the library's argument)
    becomes ``option:`` (the command's option), so a message never mixes the two."""
    text = str(err)
    if text.startswith((f"{api_name}:", f"{api_name} ")):
        try:
            return type(err)(option + text[len(api_name) :])
        except TypeError:  # an exception type that takes other arguments: keep it as it is
            return err
    return err


def model_words(err: BaseException) -> BaseException:
    """``err`` with a leading ``model:`` (the library's argument) as ``--model:``."""
    return as_option(err, "model:", "--model:") if str(err).startswith("model: ") else err


def file_words(err: BaseException, path) -> BaseException:
    """A decoder's error about FILE (``path: cannot read FILE: why``, ``path: expected an audio file, got a
    folder: FILE``) as ``FILE: why``, so the error of each FILE starts with its name."""
    text = str(err)
    for before, after in (
        (f"path: cannot read {path}: ", ""),
        (f"path: expected an audio file, got a folder: {path}", "is a folder, not an audio file"),
    ):
        if text.startswith(before):
            try:
                return type(err)(f"{path}: {after or text[len(before) :]}")
            except TypeError:
                return err
    return err


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(text.split())


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def _positive(text: str) -> float:
    """A finite number > 0 (a learning rate, a duration): nan, inf, 0 and negatives are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value

    return parse


def _add_firing_rule(p: argparse.ArgumentParser, *, per_detector: bool = False) -> None:
    # With per_detector the defaults are left to the detector: the lab network's are below, the
    # embedding detector's are in assets/embedding_head.json (0.95, 2 steps of 80 ms, 1 s).
    own = " (default: the detector's own; lab network: {}; embedding: {})" if per_detector else " ({})"
    p.add_argument(
        "--threshold",
        type=_probability,
        default=None if per_detector else THRESHOLD,
        help="fire above this probability" + own.format(THRESHOLD, "0.95"),
    )
    p.add_argument(
        "--patience",
        type=_count(1),
        default=None if per_detector else PATIENCE,
        help="consecutive output steps above the threshold before it fires" + own.format(PATIENCE, 2),
    )
    p.add_argument(
        "--refractory",
        type=_count(0),
        default=None if per_detector else REFRACTORY,
        help="output steps after a firing before it may fire again"
        + own.format(f"{REFRACTORY} steps of 7.26 ms", "12 steps of 80 ms"),
    )


def _add_detector_choice(p: argparse.ArgumentParser) -> None:
    # detect, listen and evaluate choose their detector the same way (twd_lab.detectors.files.load_detector)
    p.add_argument(
        "--detector",
        choices=("auto", "embedding", "lab"),
        default="auto",
        help="embedding: frozen speech embeddings + a small head (best on real voices); lab: the lab "
        "network; auto (default): lab with --model, else embedding when onnxruntime and openwakeword "
        "are installed",
    )
    p.add_argument("--model", help="a lab-network .keras model (default: the shipped one)")
    p.add_argument(
        "--head",
        help="a speech-embedding detector head (.keras, e.g. from `twd-lab personalize`; "
        "default: the shipped one)",
    )


# ------------------------------------------------------------------------------------------ commands


def cmd_demo(args) -> int:
    _quiet_tensorflow()
    from twd_lab.demo import run_demo

    if args.model is not None:  # the lab network, or the same one-line error as detect gives
        from twd_lab.detectors.lab_network import chunked_model

        try:
            chunked_model(args.model)
        except EXPECTED_ERRORS as err:
            raise model_words(err) from None

    result = run_demo(
        args.out,
        seed=args.seed,
        model=args.model,
        threshold=args.threshold,
        patience=args.patience,
        refractory=args.refractory,
    )
    print(result.report())
    return 0


def _load_detector(args):
    """``load_detector`` for detect, listen and evaluate; TensorFlow (quietly) only if the detector needs it."""
    from twd_lab.detectors.files import detector_kind, load_detector, needs_keras

    try:
        kind = detector_kind(args.detector, args.model, head_path=args.head)
    except ValueError as err:  # in the command's words: --model, --head
        raise as_option(as_option(err, "model_path", "--model"), "head_path", "--head") from None
    if args.head is not None:
        from twd_lab.cli_files import check_file

        check_file(Path(args.head), "--head", ".keras")
    if needs_keras(kind, head_path=args.head):
        _quiet_tensorflow()
    try:
        return load_detector(kind, args.model, head_path=args.head)
    except EXPECTED_ERRORS as err:
        raise model_words(err) from None


def cmd_detect(args) -> int:
    import tempfile

    from twd_lab.cli_files import plan_chimes, stdin_to_file

    chimes = plan_chimes(args.chime, args.files, args.overwrite)  # before any work
    with tempfile.TemporaryDirectory(prefix="twd-lab-stdin-") as tmp:
        stdin = stdin_to_file(args.files, Path(tmp))
        return _detect_files(args, chimes, stdin)


def _detect_files(args, chimes: list[Path | None], stdin: Path | None) -> int:
    from twd_lab.detectors import detect_file

    # once, for every file; fails before any file is read
    model, _ = _load_detector(args)
    failed = 0
    from twd_lab.cli_files import STDIN

    for file, chime in zip(args.files, chimes):
        path = stdin if file == STDIN else file
        try:
            result = detect_file(
                path,
                model,
                threshold=args.threshold,
                patience=args.patience,
                refractory=args.refractory,
                chime_out=chime,
                overwrite=args.overwrite,
                **({"lead_s": 0.0, "tail_s": 0.0} if args.no_pad else {}),
            )
        except EXPECTED_ERRORS as err:
            failed += 1
            message = _one_line(file_words(err, path))
            if file == STDIN:
                message = message.replace(str(stdin), "- (standard input)")
            print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
            if args.json:  # one object per file, a failed one too: a reader of the lines misses none
                print(json.dumps({"file": file, "error": message}), flush=True)
            continue
        result["file"] = file
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            fired = result["triggers"]
            found = ", ".join(f"{t['time_s']:.2f} s (p={t['score']:.2f})" for t in fired) or "none"
            print(f"{file}  {result['duration_s']:.2f} s  activate: {found}", flush=True)
        if chime is not None:
            print(f"wrote {chime}", file=sys.stderr if args.json else sys.stdout, flush=True)
    if failed:  # one file's own line says it all; several files get a count of the failed ones
        raise CommandError(f"{failed} of {len(args.files)} file(s) failed" if len(args.files) > 1 else "")
    return 0


def cmd_personalize(args) -> int:
    out = Path(args.out)
    if out.suffix != ".keras":
        raise ValueError(f"--out must end in .keras, got {out.name!r}")
    existing = [p for p in (out, out.with_suffix(".json")) if p.exists()]
    if existing and not args.overwrite:
        raise FileExistsError(f"{existing[0]} already exists; choose another --out or pass --overwrite")
    from twd_lab.cli_files import check_file, check_folder
    from twd_lab.personalize import load_recordings

    check_folder(Path(args.recordings), "recordings")
    if args.other_words is not None:
        check_folder(Path(args.other_words), "--other-words")
    if args.head is not None:
        check_file(Path(args.head), "--head", ".keras")
    recordings = load_recordings(args.recordings)  # checked before Keras loads
    other_words = load_recordings(args.other_words, what="other words") if args.other_words else None
    _quiet_tensorflow()
    from twd_lab.detectors import EmbeddingDetector
    from twd_lab.personalize import personalize

    base = EmbeddingDetector.load(args.head)
    print(f"{len(recordings)} recordings from {args.recordings}; fine-tuning (about a minute)...", flush=True)
    mine, info = personalize(
        base,
        recordings,
        other_words=other_words,
        clips=args.clips,
        epochs=args.epochs,
        seed=args.seed,
        progress=not args.quiet,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    mine.save(out)
    fa = info["false_accepts_per_hour"]
    print(
        f"false accepts per hour on {60 * fa['hours']:.0f} min of fresh audio without the word: "
        f"{fa['before']:.0f} before, {fa['after']:.0f} after"
    )
    if fa["after"] > fa["before"]:
        print(
            "note: the personalised detector fires more often where nobody says the word; keep it only if "
            "the shipped one misses your voice (try both with `twd-lab detect`)"
        )
    print(f"wrote {out} and {out.with_suffix('.json')} in {info['seconds']:.0f} s")
    print(f"use it: {PROG} detect --head {out} FILE.wav")
    return 0


PORTAUDIO_HINT = "Debian/Ubuntu: sudo apt install libportaudio2; macOS: brew install portaudio"


def _microphone():
    """The ``sounddevice`` module, once it is known to have PortAudio and an input device; else one line."""
    try:
        import sounddevice
    except ImportError:
        raise RuntimeError(
            "listening needs the optional package sounddevice: python -m pip install sounddevice"
        ) from None
    except OSError as err:  # sounddevice is installed, the PortAudio C library it wraps is not
        raise RuntimeError(
            f"sounddevice cannot load the PortAudio library ({_one_line(err)}); install it ({PORTAUDIO_HINT})"
        ) from None
    try:
        sounddevice.query_devices(kind="input")
    except (sounddevice.PortAudioError, ValueError) as err:
        raise RuntimeError(
            f"no microphone to listen to ({_one_line(err)}); connect one, or list the devices with "
            "`python -m sounddevice`"
        ) from None
    return sounddevice


def cmd_listen(args) -> int:
    sounddevice = _microphone()  # checked before TensorFlow and the model are loaded
    from twd_lab.detectors.live import StreamingBase

    detector, _ = _load_detector(args)
    # --threshold, --patience, --refractory override the detector's own rule, in its own steps
    rule = detector.rule.with_overrides(args.threshold, args.patience, args.refractory)
    live = StreamingBase(detector, chunk_s=args.chunk_s, rule=rule, keep_probabilities=False)
    detector.warm_up()
    name = detector.title
    until = "Ctrl-C to stop" if args.seconds is None else f"{args.seconds:g} s"
    print(f'listening with {name} ({until}); say "activate"', flush=True)
    try:
        heard = live.listen(args.seconds)
    except sounddevice.PortAudioError as err:  # e.g. the microphone was unplugged
        raise RuntimeError(f"the microphone stopped: {_one_line(err)}") from None
    print(f"heard {len(heard)} time(s) in {live.time_s:.1f} s")
    return 0


#: What `twd-lab classroom` runs on (pyproject.toml's classroom extra): (module, name in messages).
CLASSROOM_NEEDS = (
    ("voila", "Voilà"),
    ("ipykernel", "ipykernel"),
    ("ipywidgets", "ipywidgets"),
    ("anywidget", "anywidget"),
)


def cmd_classroom(args) -> int:
    import importlib.util
    import subprocess

    from twd_lab.classroom import classroom_notebook, voila_command

    missing = [name for module, name in CLASSROOM_NEEDS if importlib.util.find_spec(module) is None]
    if missing:
        raise RuntimeError(
            f"classroom mode needs {', '.join(missing)} (the classroom extra): "
            f'python -m pip install "twd-lab[classroom]" (in a clone: python -m pip install -e ".[classroom]")'
        )
    folder = Path(args.folder)
    notebook = classroom_notebook(
        folder, detector=args.detector, takes_dir=args.takes_dir, threshold=args.threshold
    )
    print(
        f"serving the live detector at http://127.0.0.1:{args.port}/ (Ctrl-C to stop); "
        f"takes go to {Path(args.takes_dir) if Path(args.takes_dir).is_absolute() else folder / args.takes_dir}",
        flush=True,
    )
    return subprocess.call(
        voila_command(notebook, port=args.port, open_browser=not args.no_browser), cwd=folder
    )


def cmd_synth(args) -> int:
    from twd_lab.dataset import build_dataset
    from twd_lab.dataset_folder import read_manifest

    out = Path(args.out)
    if out.is_dir() and read_manifest(out) is not None and not args.overwrite:
        raise FileExistsError(
            f"--out: {out} already holds a twd-lab dataset; pass --overwrite to replace it (only the files "
            "it recorded are replaced) or choose another --out"
        )

    try:
        info = build_dataset(
            args.out, args.m, raw=args.raw, seed=args.seed, workers=args.workers, progress=not args.quiet
        )
    except EXPECTED_ERRORS as err:
        raise as_option(as_option(err, "out_dir", "--out"), "path", "--raw") from None
    print(
        f"wrote {info.m} examples ({info.source}, seed {info.seed}) to {info.path} "
        f"in {len(info.shards)} shard(s), {info.seconds:.1f} s"
    )
    return 0


def cmd_train(args) -> int:
    from twd_lab.cli_train import cmd_train as run

    return run(args)


def cmd_evaluate(args) -> int:
    from twd_lab.evaluation import format_table, standard_reports

    talk_segments = None
    if args.talk_hours is not None:
        from twd_lab.talk_eval import generated_talk_segments

        try:  # hours, texts and voices are checked here, before any work; the talk is made as it is heard
            talk_segments = generated_talk_segments(args.talk_hours, seed=args.seed, progress=not args.quiet)
        except ValueError as err:
            raise as_option(err, "hours", "--talk-hours") from None
    detector, kind = _load_detector(args)  # the same choice as detect and listen
    rule = detector.rule.with_overrides(args.threshold, args.patience, args.refractory)
    given = args.model or args.head
    name = Path(given).stem if given else "shipped"
    try:
        reports = standard_reports(
            detector, n=args.n, seed=args.seed, raw=args.raw, progress=not args.quiet, rule=rule, name=name
        )
    except EXPECTED_ERRORS as err:
        raise as_option(err, "path", "--raw") from None
    talk = None
    if talk_segments is not None:
        from twd_lab.talk_eval import talk_report

        talk = {"name": name, **talk_report(detector, talk_segments, rule=rule), "seed": args.seed}
        reports.append(talk)
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0]))
        return 0
    print(format_table(reports[:-1] if talk else reports))
    if talk:
        print(
            f"held-out generated talk, {talk['hours']:.2f} h without the word: {talk['false_accepts']} false "
            f"accept(s), {talk['false_accepts_per_hour']:.1f} per hour ({kind}, threshold {talk['threshold']:.2f})"
        )
    return 0


# ------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Trigger word detection, from the Sequence Models lab: synthesize, train, detect.",
        epilog="Start with `twd-lab demo`; the lessons are notebooks: `jupyter lab notebooks/` in a clone "
        '(JupyterLab comes with the notebooks extra: python -m pip install -e ".[notebooks]").',
    )
    from twd_lab import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "demo",
        help="the whole pipeline once, with files to open",
        description="Synthesize a 10 s example from the bundled held-out voices, show its labels, detect "
        "with the shipped model, and write a picture (spectrogram, labels, probabilities), the example "
        "and a chimed copy into a new folder.",
    )
    p.add_argument(
        "--out", help="a new (or empty) folder; default ./twd-lab-demo, or -2, -3, ... if it exists"
    )
    p.add_argument("--seed", type=_count(0), default=0, help="which example (0)")
    p.add_argument("--model", help="a .keras model (default: the shipped one)")
    _add_firing_rule(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "detect",
        help="find the trigger word in audio files of any length",
        description="Print when the trigger word ends in each audio file (any length, read in blocks; WAV "
        "8/16/24/32-bit integer, 32/64-bit float, A-law, mu-law; FLAC, OGG, MP3; M4A/AAC/WebM with "
        "`pip install av`; mono or stereo; 4-384 kHz). time_s is when the detector fires.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG, MP3, ...)")
    _add_detector_choice(p)
    _add_firing_rule(p, per_detector=True)
    p.add_argument(
        "--chime",
        metavar="OUT.wav",
        help="also write the audio, as WAV, with a chime where it fires: a .wav file in an existing folder, "
        "or (always with several FILEs) an existing folder for NAME_chimed.wav copies",
    )
    p.add_argument("--overwrite", action="store_true", help="let --chime replace an existing file")
    p.add_argument(
        "--no-pad",
        action="store_true",
        help="hear each file bare; by default the detector also hears 0.5 s of silence before it and "
        "1 s after it, so a word right at the start or end is found",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per file: {"file", "duration_s", "triggers": [{"time_s", "score"}]}, or '
        '{"file", "error"} for a file that could not be read',
    )
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser(
        "listen",
        help="listen to the microphone (needs the optional sounddevice package)",
        description="Stream the microphone (44.1 kHz mono) through the detector chunk by chunk and print "
        "each detection as soon as it is decided. time_s counts from the start of listening.",
    )
    _add_detector_choice(p)
    p.add_argument("--seconds", type=_positive, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--chunk-s", type=_positive, default=0.25, help="seconds per chunk (0.25)")
    _add_firing_rule(p, per_detector=True)
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser(
        "synth",
        help="synthesize a training set to disk",
        description="Synthesize M 10 s examples (spectrograms X and labels Y) into .npy shards in OUT.",
    )
    p.add_argument(
        "--out",
        required=True,
        help="dataset folder: new or empty, or an earlier twd-lab dataset to replace with --overwrite",
    )
    p.add_argument("-m", type=_count(1), default=32, help="number of examples (32)")
    p.add_argument("--seed", type=_count(0), default=0, help="random seed (0)")
    p.add_argument(
        "--raw", help="lab-style folder with activates/ negatives/ backgrounds/ (default: bundled)"
    )
    p.add_argument("--workers", type=_count(1), help="processes (default: one per CPU)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier dataset in --out (its shards and manifest; other files there stay)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "train",
        help="train the lab network and save it",
        description="Train the lab network on a dataset folder (--data) or on examples synthesized on the "
        "fly from the bundled voices (or --raw), with the lab's Adam and binary cross-entropy, and save "
        "it as a .keras file.",
    )
    p.add_argument("--data", help="a dataset folder from `twd-lab synth` (default: synthesize on the fly)")
    p.add_argument("--raw", help="lab-style folder to synthesize from (default: bundled training voices)")
    p.add_argument("--out", help="where to save the model (model.keras)")
    p.add_argument("--epochs", type=_count(1), default=10, help="epochs in all, resumed ones included (10)")
    p.add_argument("--batch-size", type=_count(1), default=32, help="examples per batch (32)")
    p.add_argument(
        "--steps-per-epoch", type=_count(1), default=50, help="batches per epoch when synthesizing (50)"
    )
    p.add_argument(
        "--learning-rate",
        type=_positive,
        default=1e-4,
        help="Adam learning rate (the lab's 1e-4; 1e-3 is faster)",
    )
    p.add_argument("--seed", type=_count(0), default=0, help="random seed (0)")
    p.add_argument(
        "--dev-clips",
        type=_count(1),
        default=DEV_CLIPS,
        help=f"clips scored after each epoch to keep the best ({DEV_CLIPS}; about 220 MB)",
    )
    p.add_argument(
        "--checkpoint-dir",
        help="keep best.keras, last.keras (after every epoch, to resume from), state.json and history.csv "
        "here (default: OUT_checkpoints beside --out)",
    )
    p.add_argument(
        "--resume",
        metavar="CHECKPOINT_DIR",
        help="go on from the last finished epoch of an interrupted run, with its data and options",
    )
    p.add_argument(
        "--time-limit-min", type=_positive, help="stop after the epoch that passes this many minutes"
    )
    p.add_argument("--no-augment", action="store_true", help="use the clips as they are")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out or checkpoints")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="event metrics of a detector on seeded test clips",
        description="Synthesize N seeded 10 s test clips, hear each through the detector as `twd-lab detect` "
        "would (the same --detector/--model/--head choice; default the speech-embedding detector), and report "
        "event precision/recall/F1, false accepts per hour, miss rate, and frame accuracy against the "
        "detector's own training targets (beside the all-zeros baseline). Default: the bundled held-out "
        "voices, and ../shared/real_speech when it exists.",
    )
    p.add_argument("--raw", help="lab-style folder of recordings to build the test clips from")
    p.add_argument("-n", "--clips", dest="n", type=_count(1), default=200, help="test clips per set (200)")
    p.add_argument("--seed", type=_count(0), default=0, help="random seed (0)")
    _add_detector_choice(p)
    _add_firing_rule(p, per_detector=True)
    p.add_argument(
        "--talk-hours",
        type=_positive,
        metavar="H",
        help="also count false accepts per hour on H hours of the project's held-out generated talk (voices "
        "and texts training never used; about 2 min of CPU per hour of talk)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="the full reports (with the DET curve) as JSON: one object, or a list of them (one per test set, "
        'and the talk\'s, "source": "talk:heldout"); "detector" says which detector was evaluated',
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "classroom",
        help="the live detector full-screen in the browser (Voilà on 127.0.0.1)",
        description="Serve a one-widget page on 127.0.0.1 with Voilà: the LiveDetector, listening to the "
        "browser's microphone as soon as it is allowed, chiming when it hears the word. Needs the classroom "
        'extra: python -m pip install "twd-lab[classroom]".',
    )
    p.add_argument("--folder", default="twd-lab-classroom", help="where the page's notebook and takes go")
    p.add_argument("--port", type=_count(1), default=8866, help="port on 127.0.0.1 (8866)")
    p.add_argument("--detector", choices=("auto", "embedding", "lab"), default="auto", help="which detector")
    p.add_argument("--threshold", type=float, help="firing threshold (default: the detector's own)")
    p.add_argument("--takes-dir", default="my_takes", help="where 'Keep this take' writes (in --folder)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_classroom)

    p = sub.add_parser(
        "personalize",
        help="fine-tune the speech-embedding detector on your own recordings",
        description="Fine-tune a copy of the speech-embedding detector's head on a folder of recordings of one "
        "person saying the word (one word per file; 5-10 files), mixed into clips with the bundled "
        "backgrounds, negatives and voices. About a minute on a CPU; the shipped detector is not changed.",
    )
    p.add_argument(
        "recordings",
        help="folder of audio files (WAV, FLAC, OGG, MP3; M4A with `pip install av`), one spoken trigger word each",
    )
    p.add_argument("--out", required=True, help="where to save the new head (.keras, plus a .json beside it)")
    p.add_argument(
        "--other-words",
        metavar="FOLDER",
        help="optional folder of audio files of the same person saying other words (one per file); "
        "measured, they cut the extra false accepts personalising brings",
    )
    p.add_argument("--head", help="the head to start from (default: the shipped one)")
    p.add_argument("--clips", type=_count(4), default=150, help="10 s clips made with your recordings (150)")
    p.add_argument("--epochs", type=_count(1), default=4, help="epochs of fine-tuning (4)")
    p.add_argument("--seed", type=_count(0), default=0, help="random seed (0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_personalize)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``twd-lab`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # no command: the help, as a usage error
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as err:
        if str(err):
            print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except EXPECTED_ERRORS as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
