"""Train the shipped detector on the project's own assets only, and write assets/model.keras + model.json.

    python tools/train_model.py                       # what made the shipped model (see assets/model.json)
    python tools/train_model.py --time-limit-min 5 --out /tmp/try --checkpoint-dir /tmp/try/ckpt

Training data: 10 s examples synthesized on the fly from the bundled *training* voices
(``assets/raw/train``) with the default augmentation; the held-out voices and any real recordings are
never used for training. The dev set that picks the best epoch (event F1 in inference mode) is made
from training voices too. After training, the best model is evaluated on held-out TTS voices and, when
``../shared/real_speech/coursera`` exists, on real people; the figures go into ``model.json``.

``--resume`` continues the run in ``--checkpoint-dir`` (e.g. at a lower ``--learning-rate``);
``--export-only CKPT_DIR`` skips training and exports/evaluates ``CKPT_DIR/best.keras`` (e.g. after
stopping a long run). Existing output files are kept unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder: tool_command

from tool_command import command_line

from twd_lab.constants import DEV_CLIPS

REPO = Path(__file__).resolve().parents[1]


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _index_sha256() -> str:
    from twd_lab.assets_index import index_path

    return hashlib.sha256(index_path().read_bytes()).hexdigest()


def estimate_prior(n: int, seed: int) -> dict:
    """Per-frequency prior (mean, std of log power) from ``n`` augmented training examples."""
    import numpy as np

    from twd_lab.layers import log_power_prior
    from twd_lab.training import OnTheFlyDataset

    ds = OnTheFlyDataset("train", steps_per_epoch=1, batch_size=n, seed=seed)
    mu0, sigma0 = log_power_prior(ds[0][0])
    return {"mu0": np.round(mu0, 4).tolist(), "sigma0": np.round(sigma0, 4).tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(REPO / "assets"), help="folder for model.keras and model.json")
    parser.add_argument("--checkpoint-dir", default=str(REPO / "runs" / "shipped"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--steps-per-epoch", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-3,
        help="Adam learning rate (the lab uses 1e-4; 1e-3 converges in the few hundred steps a CPU affords)",
    )
    parser.add_argument(
        "--time-limit-min", type=float, default=45.0, help="stop after the epoch that passes this"
    )
    parser.add_argument("--early-stopping", type=int, default=8, help="epochs without dev F1 improvement")
    parser.add_argument(
        "--dev-clips",
        type=int,
        default=DEV_CLIPS,
        help=f"dev clips scored after each epoch to keep the best ({DEV_CLIPS})",
    )
    parser.add_argument("--eval-clips", type=int, default=200)
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument(
        "--export-only", metavar="CKPT_DIR", help="export CKPT_DIR/best.keras without training"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --checkpoint-dir from last.keras (optimizer state kept; "
        "--learning-rate replaces the rate; --time-limit-min counts from now)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output/checkpoint files")
    args = parser.parse_args(argv)

    import keras

    from twd_lab import evaluation
    from twd_lab.models import any_length, build_model, compile_model, load_model
    from twd_lab.training import BEST_NAME, LAST_NAME, OnTheFlyDataset, history_to_json, train

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_out, meta_out = out / "model.keras", out / "model.json"
    if not args.overwrite and (model_out.exists() or meta_out.exists()):
        parser.error(f"{model_out} or {meta_out} exists; pass --overwrite to replace it")

    meta: dict = {
        "command": command_line(__file__, argv),
        "git_commit": _git_commit(),
        "asset_index_sha256": _index_sha256(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if args.export_only:
        ckpt = Path(args.export_only)
        model = load_model(ckpt / BEST_NAME)
        old = ckpt / "train_meta.json"
        if old.is_file():
            meta = {**json.loads(old.read_text()), **{k: meta[k] for k in ("created",)}}
            meta["export_command"] = command_line(__file__, argv)
    else:
        ckpt = Path(args.checkpoint_dir)
        previous = json.loads((ckpt / "train_meta.json").read_text()) if args.resume else None
        keras.utils.set_random_seed(args.seed + (len(previous["history"]) if previous else 0))
        if previous:
            model = keras.saving.load_model(ckpt / LAST_NAME, compile=True)
            model.optimizer.learning_rate.assign(args.learning_rate)
            print(f"resuming after epoch {len(previous['history'])} at learning rate {args.learning_rate}")
        else:
            t0 = time.time()
            prior = estimate_prior(64, seed=args.seed + 1)
            print(f"prior from 64 training examples in {time.time() - t0:.0f} s", flush=True)
            model = compile_model(
                build_model("functional", norm_config=prior), learning_rate=args.learning_rate
            )
        data = OnTheFlyDataset("train", args.steps_per_epoch, args.batch_size, seed=args.seed)
        data.epoch = len(previous["history"]) if previous else 0  # new epochs draw new examples
        dev = evaluation.build_test_set("train", args.dev_clips, seed=10_000 + args.seed)
        meta.update(
            seed=args.seed,
            data={
                "source": data.source,
                "voices_split": "train",
                "augment": data.augment_name,
                "activates": len(data.activates),
                "negatives": len(data.negatives),
                "backgrounds": len(data.backgrounds),
                "examples_per_epoch": args.steps_per_epoch * args.batch_size,
                "dev": {"source": dev.source, "clips": len(dev), "seed": dev.seed},
            },
            optimizer={"name": "Adam", "learning_rate": args.learning_rate, "beta_1": 0.9, "beta_2": 0.999},
            loss="binary_crossentropy",
            model={"style": "functional", "output_layer": "dense", "params": model.count_params()},
        )
        t0 = time.time()
        history = train(
            model,
            train_data=data,
            val_data=dev,
            epochs=args.epochs,
            batch_size=args.batch_size,
            checkpoint_dir=ckpt,
            overwrite=args.overwrite or bool(previous),
            early_stopping_patience=args.early_stopping,
            time_limit_s=args.time_limit_min * 60,
            progress="epoch",
            initial_epoch=data.epoch,
            initial_best=previous["best_dev_f1"] if previous else None,
        )
        rows = json.loads(history_to_json(history))
        phase = {"command": meta["command"], "learning_rate": args.learning_rate, "epochs": len(rows)}
        phase["seconds"] = round(time.time() - t0, 1)
        if previous:
            previous.setdefault(
                "phases",
                [
                    {
                        "command": previous["command"],
                        "learning_rate": previous["optimizer"]["learning_rate"],
                        "epochs": previous["epochs_run"],
                        "seconds": previous["training_seconds"],
                    }
                ],
            )
            meta = {**previous, "created": meta["created"], "git_commit": meta["git_commit"]}
            rows = previous["history"] + rows
        improved = history.best_epoch is not None
        meta.update(
            phases=(previous.get("phases", []) if previous else []) + [phase],
            training_seconds=round(
                sum(p["seconds"] for p in (previous or {}).get("phases", [])) + phase["seconds"], 1
            ),
            epochs_run=len(rows),
            best_epoch=history.best_epoch if improved else previous["best_epoch"],
            best_dev_f1=history.best_value if improved else previous["best_dev_f1"],
            history=rows,
        )
        (ckpt / "train_meta.json").write_text(json.dumps(meta, indent=1))
        model = load_model(ckpt / BEST_NAME)  # the best epoch, without the optimizer state

    reports = evaluation.standard_reports(model, n=args.eval_clips, seed=args.eval_seed)
    print(evaluation.format_table(reports), flush=True)
    meta["evaluation"] = {
        "command": f"twd-lab evaluate --model {model_out} --clips {args.eval_clips} --seed {args.eval_seed}",
        "reports": [{k: v for k, v in r.items() if k != "det"} for r in reports],
    }
    any_length(model).save(model_out)  # same weights, runs on inputs of any length
    meta_out.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {model_out} ({model_out.stat().st_size / 1e6:.1f} MB) and {meta_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
