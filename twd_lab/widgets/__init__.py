"""Interactive views for the lessons (ipywidgets 8): thin layers over the library's functions.

Every widget keeps its state in traits or child widgets. The AudioPlayer, the ThresholdExplorer's DET
plot and the LiveDetector are drawn by the browser (anywidget ES modules in ``twd_lab/widgets/js/``, data
sent as binary buffers); the others show a matplotlib figure (``.figure``) as a PNG. A test can set a
control's value, or send the LiveDetector the messages its browser side sends, and read what the widget
holds without a browser. When a notebook is exported, each figure widget also offers its PNG as a static
picture (and, after ``embed_audio_in_static_copies()``, its audio as ``<audio>`` players: the handouts).

Importing this package imports none of the widgets (and never TensorFlow): each name is loaded from
its module on first use, and only the model widgets load Keras, when they need a model.

>>> from twd_lab.widgets import AudioPlayer      # doctest: +SKIP
>>> AudioPlayer("clip.wav")                      # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "AudioPlayer": "audio_player",
    "SynthesisExplorer": "synthesis_explorer",
    "KerasStylesStepper": "keras_styles",
    "DetectionDemo": "detection_demo",
    "ThresholdExplorer": "threshold_explorer",
    "TrainingMonitor": "training_monitor",
    "embed_audio_in_static_copies": "_common",
    "LiveDetector": "live_detector",
}

__all__ = [
    "AudioPlayer",
    "DetectionDemo",
    "KerasStylesStepper",
    "LiveDetector",
    "SynthesisExplorer",
    "ThresholdExplorer",
    "TrainingMonitor",
    "embed_audio_in_static_copies",
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twd_lab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"twd_lab.widgets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
