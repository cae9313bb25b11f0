"""Training checkpoints that can be trusted: a guard against non-finite numbers, and one checkpoint per epoch.

:class:`NonFiniteGuard` stops training (:class:`NonFiniteTraining`, with the epoch and the reason) as soon as
the loss, the weights or the dev loss stop being finite, before any callback after it saves the model.
:class:`EpochCheckpoint` writes ``last.keras`` (with the optimizer's state) and ``state.json`` after every
epoch, each whole (a temporary file, then a rename), so an interrupted run resumes from its last finished
epoch (:func:`read_checkpoint_state`; ``twd-lab train --resume``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras
import numpy as np

from twd_lab.checkpoint_files import LAST_NAME, STATE_NAME, read_checkpoint_state

__all__ = [
    "LAST_NAME",
    "STATE_NAME",
    "EpochCheckpoint",
    "NonFiniteGuard",
    "NonFiniteTraining",
    "read_checkpoint_state",
]


class NonFiniteTraining(RuntimeError):
    """Training stopped because the loss or the weights stopped being finite numbers (NaN or infinity)."""


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises :class:`NonFiniteTraining` (with the epoch, the batch and the reason) as soon as the loss is
    not finite, and at an epoch's end if a weight or the dev loss is not, before any callback after it
    saves the model: a model with NaN weights is never written. ``where``: the checkpoint to mention."""

    def __init__(self, where: Path | None = None):
        super().__init__()
        self.where = where

    def _stop(self, epoch: int, reason: str):
        saved = ""
        if self.where is not None and (self.where / LAST_NAME).is_file():
            saved = f"; the last good epoch is saved in {self.where / LAST_NAME}"
        raise NonFiniteTraining(
            f"training stopped in epoch {epoch + 1}: {reason}; nothing was saved from this epoch{saved}. "
            "A lower learning rate may help"
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(self.epoch, f"the loss became {float(loss)} at batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        for weight in self.model.weights:
            if not np.isfinite(keras.ops.convert_to_numpy(weight)).all():
                self._stop(epoch, f"the weights of {weight.path} became NaN or infinite")
        dev_loss = (logs or {}).get("dev_loss")
        if dev_loss is not None and not math.isfinite(float(dev_loss)):
            self._stop(epoch, f"the dev loss became {float(dev_loss)}")


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the model (with its optimizer) to ``last.keras`` and ``state.json`` (epochs done,
    best score so far from ``best``, a :class:`twd_lab.training.BestWeights`, and ``meta``), each written whole (a temporary file, then a rename), so an interrupted
    run can be resumed from the last finished epoch (:func:`read_checkpoint_state`)."""

    def __init__(self, folder: Path, best, meta: dict | None = None):
        super().__init__()
        self.folder, self.best, self.meta = Path(folder), best, dict(meta or {})

    def on_epoch_end(self, epoch, logs=None):
        part = self.folder / ("last.partial" + Path(LAST_NAME).suffix)
        self.model.save(part)
        os.replace(part, self.folder / LAST_NAME)
        best = None if self.best.best_epoch is None else self.best.sign * self.best.best
        state = {
            "epochs_done": epoch + 1,
            "best_value": best,
            "best_epoch": self.best.best_epoch,
            **self.meta,
        }
        part = self.folder / (STATE_NAME + ".part")
        part.write_text(json.dumps(state, indent=1))
        os.replace(part, self.folder / STATE_NAME)
