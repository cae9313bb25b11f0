"""The files of a training run's checkpoint folder, and reading its state, without Keras.

So ``twd-lab train`` checks an earlier run's folder (or the one to ``--resume``) before TensorFlow loads;
:mod:`twd_lab.checkpoints` writes them, :mod:`twd_lab.training` re-exports the names.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["BEST_NAME", "HISTORY_NAME", "LAST_NAME", "STATE_NAME", "read_checkpoint_state"]

BEST_NAME = "best.keras"
LAST_NAME = "last.keras"
STATE_NAME = "state.json"  # epochs done and the best score so far: what resuming needs besides last.keras
HISTORY_NAME = "history.csv"


def read_checkpoint_state(folder) -> dict:
    """What :class:`~twd_lab.checkpoints.EpochCheckpoint` wrote in ``folder`` (``epochs_done``, ``best_value``, ...), or an
    error saying why it cannot be resumed from."""
    folder = Path(folder)
    state_path = folder / STATE_NAME
    if not (folder / LAST_NAME).is_file() or not state_path.is_file():
        raise FileNotFoundError(
            f"{folder} holds no finished epoch to resume from ({LAST_NAME} and {STATE_NAME} are written "
            "after each epoch)"
        )
    try:
        state = json.loads(state_path.read_text())
    except ValueError as err:
        raise ValueError(f"{state_path} is not valid JSON ({err})") from None
    done = state.get("epochs_done") if isinstance(state, dict) else None
    if isinstance(done, bool) or not isinstance(done, int) or done < 1:
        raise ValueError(f"{state_path} does not say how many epochs are done; it cannot be resumed from")
    return state
