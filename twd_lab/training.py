"""Training: data that streams, the lab's optimizer, model selection on a dev *event* metric.

Two sources of batches, both ``keras.utils.PyDataset`` (memory stays flat, whatever the epochs):

* :class:`ArrayDataset` reads examples from arrays, e.g. the memory-mapped shards of
  :func:`twd_lab.dataset.load_dataset` (``ArrayDataset.from_shards(path)``);
* :class:`OnTheFlyDataset` synthesizes every batch from a lab-style raw folder, with augmentation, so
  no two epochs see the same examples.

:func:`train` wraps ``model.fit``. At the end of each epoch :class:`DevEventMetric` runs the model in
inference mode on a fixed dev set and logs ``dev_f1``, ``dev_recall``, ``dev_precision``,
``dev_fa_per_hour`` and ``dev_loss``; checkpoints and early stopping follow ``dev_f1``. Frame
accuracy is not used: a model that never fires already scores ~0.93. The training-mode loss is not
used either: the lab network can fit in training mode and output ~0.01 everywhere in inference mode.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from twd_lab.checkpoint_files import BEST_NAME, HISTORY_NAME, LAST_NAME, STATE_NAME, read_checkpoint_state
from twd_lab.checkpoints import EpochCheckpoint, NonFiniteGuard, NonFiniteTraining
from twd_lab.constants import BACKGROUND_GAIN_DB, N_FREQ, PATIENCE, REFRACTORY, THRESHOLD, TX, TY
from twd_lab.evaluation import TestSet, build_test_set, load_raw_arrays, predict_probs, score_probs

__all__ = [
    "BEST_NAME",
    "HISTORY_NAME",
    "LAST_NAME",
    "STATE_NAME",
    "ArrayDataset",
    "BestWeights",
    "DevEventMetric",
    "NonFiniteTraining",
    "OnTheFlyDataset",
    "TimeLimit",
    "VariantCache",
    "history_to_json",
    "read_checkpoint_state",
    "train",
]
# --- data ------------------------------------------------------------------------------------------


class ArrayDataset(keras.utils.PyDataset):
    """Batches ``(x (b, TX, N_FREQ), y (b, TY, 1))`` from arrays or memmaps, reshuffled every epoch."""

    def __init__(self, X, Y, batch_size: int = 32, *, shuffle: bool = True, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if len(X) != len(Y):
            raise ValueError(f"X and Y must hold the same number of examples, got {len(X)} and {len(Y)}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.X, self.Y = X, Y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self._order = self._new_order()

    @classmethod
    def from_shards(cls, path, batch_size: int = 32, **kwargs) -> ArrayDataset:
        """Stream a dataset written by :func:`twd_lab.dataset.build_dataset` (shards stay on disk)."""
        from twd_lab.dataset import load_dataset

        ds = load_dataset(path)
        return cls(ds.X, ds.Y, batch_size, **kwargs)

    def _new_order(self) -> np.ndarray:
        n = len(self.X)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size)

    def __getitem__(self, idx: int):
        sel = self._order[idx * self.batch_size : (idx + 1) * self.batch_size]
        sort = np.argsort(sel, kind="stable")  # read in file order, then put back in shuffled order
        x = np.empty((sel.size, *self.X.shape[1:]), np.float32)
        y = np.empty((sel.size, *self.Y.shape[1:]), np.float32)
        x[sort] = self.X[sel[sort]]
        y[sort] = self.Y[sel[sort]]
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._new_order()


class VariantCache:
    """Augment ``clip`` now and then, reuse earlier results otherwise: a cheaper ``augment(clip, rng)``.

    Speed and pitch changes cost ~0.1 s a word on a CPU, more than a training step's share. Each call
    makes a fresh variant with probability ``p_fresh`` (always while a clip has none) and keeps up to
    ``max_variants`` per clip; otherwise it returns one of the kept ones. Over many epochs every clip
    still meets many different augmentations.
    """

    def __init__(self, augment: Callable, p_fresh: float = 0.25, max_variants: int = 8):
        if not 0.0 <= p_fresh <= 1.0:
            raise ValueError(f"p_fresh must be in [0, 1], got {p_fresh}")
        self.augment = augment
        self.p_fresh = float(p_fresh)
        self.max_variants = int(max_variants)
        self._pool: dict[int, list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        with self._lock:
            variants = self._pool.setdefault(id(clip), [])
            fresh = not variants or rng.random() < self.p_fresh
            if not fresh:
                return variants[int(rng.integers(len(variants)))]
        new = np.asarray(self.augment(clip, rng), dtype=np.float32)
        with self._lock:
            if len(variants) < self.max_variants:
                variants.append(new)
            else:
                variants[int(rng.integers(len(variants)))] = new
        return new


class OnTheFlyDataset(keras.utils.PyDataset):
    """Synthesizes ``steps_per_epoch`` batches per epoch from a lab-style raw folder, seeded.

    ``raw``: ``None`` or ``"train"`` (the bundled training voices), ``"heldout"``, a folder path or
    ``(activates, negatives, backgrounds)`` arrays. Batch ``i`` of epoch ``e`` draws from
    ``default_rng([seed, e, i])``. ``augment=True`` passes each word through
    :class:`twd_lab.augment.WordAugmenter` and each background through
    :class:`~twd_lab.augment.BackgroundAugmenter` (with a random circular shift), both via a
    :class:`VariantCache`; ``False`` uses the clips as they are; a callable augments words with it.
    Batches are made in ``workers`` background threads while the model trains.
    """

    def __init__(
        self,
        raw=None,
        steps_per_epoch: int = 50,
        batch_size: int = 32,
        seed: int = 0,
        augment: bool | Callable = True,
        *,
        p_fresh: float = 0.25,
        workers: int = 1,
        max_queue_size: int = 4,
    ):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max_queue_size)
        if int(steps_per_epoch) < 1 or int(batch_size) < 1:
            raise ValueError(
                f"steps_per_epoch and batch_size must be >= 1, got {steps_per_epoch}, {batch_size}"
            )
        self.activates, self.negatives, self.backgrounds, self.source = load_raw_arrays(raw)
        self.steps_per_epoch = int(steps_per_epoch)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = 0
        self.word_augment = self.background_augment = None
        if augment is True:
            from twd_lab.augment import BackgroundAugmenter, WordAugmenter

            self.word_augment = VariantCache(WordAugmenter(), p_fresh)
            self.background_augment = VariantCache(BackgroundAugmenter(), p_fresh)
        elif callable(augment):
            self.word_augment = augment
        self.augment_name = "default" if augment is True else (repr(augment) if augment else None)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One example ``x (TX, N_FREQ)``, ``y (TY, 1)`` drawn with ``rng``."""
        bg = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        if self.background_augment is not None:
            bg = np.roll(self.background_augment(bg, rng), int(rng.integers(bg.size)))
        return self.example_over(bg, rng)

    def example_over(
        self, background: np.ndarray, rng: np.random.Generator, background_gain_db: float = BACKGROUND_GAIN_DB
    ) -> tuple[np.ndarray, np.ndarray]:
        """One example with words laid over ``background`` (44.1 kHz) lowered by ``background_gain_db``."""
        from twd_lab.spectrogram import pcm16_frames
        from twd_lab.synthesis import synthesize_example

        ex = synthesize_example(
            background,
            self.activates,
            self.negatives,
            rng=rng,
            augment=self.word_augment,
            background_gain_db=background_gain_db,
        )
        return pcm16_frames(ex.audio), ex.y.T

    def __getitem__(self, idx: int):
        rng = np.random.default_rng([self.seed, self.epoch, int(idx)])
        x = np.empty((self.batch_size, TX, N_FREQ), np.float32)
        y = np.empty((self.batch_size, TY, 1), np.float32)
        for k in range(self.batch_size):
            x[k], y[k] = self.example(rng)
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1


# --- model selection --------------------------------------------------------------------------------


class DevEventMetric(keras.callbacks.Callback):
    """At each epoch end: event scores of the model in inference mode on a fixed dev set, into ``logs``.

    Adds ``dev_f1``, ``dev_recall``, ``dev_precision``, ``dev_fa_per_hour``, ``dev_loss`` (binary
    cross-entropy in inference mode) and ``dev_best_f1`` (F1 at its best threshold). Put it before
    callbacks that monitor these keys (``train`` does).
    """

    def __init__(
        self,
        dev: TestSet,
        *,
        threshold: float = THRESHOLD,
        patience: int = PATIENCE,
        refractory: int = REFRACTORY,
    ):
        super().__init__()
        self.dev = dev
        self.threshold, self.patience, self.refractory = threshold, patience, refractory
        self.history: list[dict] = []

    def scores(self) -> dict:
        probs = predict_probs(self.model, self.dev.x)
        y = self.dev.y[..., 0]
        p = np.clip(probs, 1e-7, 1 - 1e-7)
        out = {"dev_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
        kw = {"patience": self.patience, "refractory": self.refractory}
        s = score_probs(probs, self.dev, threshold=self.threshold, **kw)
        out.update(
            dev_f1=s.f1,
            dev_recall=s.recall,
            dev_precision=s.precision,
            dev_fa_per_hour=s.false_accepts_per_hour,
        )
        out["dev_best_f1"] = max(
            score_probs(probs, self.dev, threshold=t, **kw).f1 for t in (0.2, 0.35, 0.5, 0.65, 0.8)
        )
        return out

    def on_epoch_end(self, epoch, logs=None):
        scores = self.scores()
        if logs is not None:
            logs.update(scores)
        self.history.append({"epoch": epoch + 1, **(logs or scores)})


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best ``monitor`` and restores them when training ends."""

    def __init__(self, monitor: str = "dev_f1", mode: str = "max", initial_best: float | None = None):
        super().__init__()
        self.monitor, self.sign = monitor, (1.0 if mode == "max" else -1.0)
        self.best = -math.inf if initial_best is None else self.sign * initial_best
        self.best_epoch, self.weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and self.sign * value > self.best:
            self.best, self.best_epoch, self.weights = self.sign * value, epoch + 1, self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the epoch that passes ``seconds`` of wall-clock time."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


def _checkpoint_dir(path, overwrite: bool) -> Path:
    path = Path(path)
    existing = [path / n for n in (BEST_NAME, LAST_NAME, HISTORY_NAME, STATE_NAME) if (path / n).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"checkpoint_dir {path} already holds {', '.join(p.name for p in existing)}; "
            "choose another folder or pass overwrite=True to replace them"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def train(
    model: keras.Model,
    *,
    train_data,
    val_data: TestSet | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    checkpoint_dir: str | Path | None = None,
    overwrite: bool = False,
    monitor: str = "dev_f1",
    early_stopping_patience: int | None = 5,
    time_limit_s: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    progress: bool | str = True,
    initial_epoch: int = 0,
    initial_best: float | None = None,
    checkpoint_meta: dict | None = None,
) -> keras.callbacks.History:
    """Fit ``model`` (compiled with :func:`twd_lab.models.compile_model` if it is not yet).

    ``train_data``: a PyDataset (:class:`OnTheFlyDataset`, :class:`ArrayDataset`), a dataset folder
    (streamed with :meth:`ArrayDataset.from_shards`) or an ``(X, Y)`` pair. ``val_data``: the dev
    :class:`~twd_lab.evaluation.TestSet` scored every epoch (default: 32 seeded clips of the bundled
    training voices; held-out voices stay untouched for the final evaluation).
    With ``checkpoint_dir``, the best model by ``monitor`` is saved to ``best.keras`` every time it
    improves, the latest to ``last.keras`` with ``state.json`` (epochs done, best so far, and
    ``checkpoint_meta``) after every epoch, and the per-epoch logs to ``history.csv``; existing files
    there are not replaced unless ``overwrite=True``. A loss or weights that stop being finite stop
    training with :class:`NonFiniteTraining` (epoch and reason) before anything of that epoch is saved. Training stops after ``early_stopping_patience``
    epochs without improvement, or after ``time_limit_s``; the best weights are restored at the end.
    ``progress``: True (Keras's bar), ``"epoch"`` (one line per epoch, for logs) or False.
    To resume, pass the model loaded from ``last.keras`` (compiled), ``initial_epoch`` (epochs done)
    and ``initial_best`` (the best ``monitor`` so far, so ``best.keras`` is only replaced by a better
    model), with ``overwrite=True``; ``history.csv`` is appended to.
    """
    from twd_lab.models import compile_model

    if getattr(model, "optimizer", None) is None or not model.compiled:
        compile_model(model)
    if isinstance(train_data, (str, Path)):
        train_data = ArrayDataset.from_shards(train_data, batch_size)
    elif isinstance(train_data, tuple) and len(train_data) == 2:
        train_data = ArrayDataset(*train_data, batch_size=batch_size)
    if val_data is None:
        val_data = build_test_set("train", 32, seed=10_000)
    dev = DevEventMetric(val_data)
    best = BestWeights(monitor, initial_best=initial_best)
    ckpt = None if checkpoint_dir is None else _checkpoint_dir(checkpoint_dir, overwrite)
    cbs: list[keras.callbacks.Callback] = [dev, NonFiniteGuard(ckpt), best]  # the guard before any save
    if ckpt is not None:
        cbs += [
            keras.callbacks.ModelCheckpoint(
                str(ckpt / BEST_NAME),
                monitor=monitor,
                mode="max",
                save_best_only=True,
                initial_value_threshold=initial_best,
            ),
            EpochCheckpoint(ckpt, best, checkpoint_meta),
            keras.callbacks.CSVLogger(str(ckpt / HISTORY_NAME), append=initial_epoch > 0),
        ]
    if early_stopping_patience is not None:
        cbs.append(
            keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=early_stopping_patience)
        )
    if time_limit_s is not None:
        cbs.append(TimeLimit(time_limit_s))
    cbs += list(callbacks)
    verbose = {True: 1, "epoch": 2, False: 0}[progress]
    history = model.fit(
        train_data, epochs=epochs, callbacks=cbs, verbose=verbose, initial_epoch=initial_epoch
    )
    history.best_epoch = best.best_epoch
    history.best_value = None if best.best_epoch is None else best.sign * best.best
    history.dev_history = dev.history
    return history


def history_to_json(history: keras.callbacks.History) -> str:
    """The per-epoch logs of :func:`train` as JSON (the training curve)."""
    rows = getattr(history, "dev_history", None) or [
        {"epoch": i + 1, **{k: v[i] for k, v in history.history.items()}} for i in range(len(history.epoch))
    ]
    return json.dumps([{k: float(v) if k != "epoch" else int(v) for k, v in r.items()} for r in rows])
