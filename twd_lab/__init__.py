"""twd-lab: a teaching toolkit for trigger word detection.

The lab's names are importable from here. Each is loaded from its module on first use, so
``import twd_lab`` stays light and never imports TensorFlow; only the model, training and detection
functions load Keras, and only when called.
"""

from __future__ import annotations

import importlib

from twd_lab import _moved

__version__ = "0.1.0"

_moved.install()  # modules that moved into twd_lab.detectors keep their old import paths

# public name -> module that defines it
_EXPORTS = {
    # audio I/O
    "get_wav_info": "audio",
    "match_target_amplitude": "audio",
    "load_raw_audio": "audio",
    "read_wav": "audio",
    "write_wav": "audio",
    # spectrogram
    "spectrogram": "spectrogram",
    "graph_spectrogram": "spectrogram",
    # synthesis
    "get_random_time_segment": "synthesis",
    "is_overlapping": "synthesis",
    "insert_audio_clip": "synthesis",
    "insert_ones": "synthesis",
    "create_training_example": "synthesis",
    # detection
    "preprocess_audio": "detection",
    "detect_triggerword": "detection",
    "chime_on_activate": "detection",
    # models
    "build_model": "models",
}

# built from the table so the two never disagree
__all__ = [*_EXPORTS, "__version__"]  # noqa: PLE0604


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twd_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"twd_lab.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
