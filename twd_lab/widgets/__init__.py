"""Interactive views for the lessons (ipywidgets 8): thin layers over the library's functions.

Every widget keeps its state in traits or child widgets, and every one is drawn by the browser
(anywidget ES modules in ``twd_lab/widgets/js/``, data sent once as binary buffers or JSON): the clips of
the AudioPlayer, SynthesisExplorer and DetectionDemo by one module (``audio_view``), the DET plot and its
table (``det_view``), the training curves (``curves_view``), the Keras styles (``styles_view``) and the
LiveDetector. Controls that need no kernel (a threshold on stored probabilities, the playhead, zoom, the
style shown) are answered there. A test can set a control's value, or send the LiveDetector the messages
its browser side sends, and read what the widget holds without a browser. Each figure widget also keeps a
matplotlib copy (``.figure``, ``.png``), drawn only when asked for: the static picture an exported
notebook, nbval or a handout shows (and, after ``embed_audio_in_static_copies()``, its audio as
``<audio>`` players: the handouts).

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
    # the browser-drawn views the widgets are made of, and the LiveDetector's kernel side
    "LiveSession": "live_session",
    "AudioView": "audio_view",
    "DetView": "det_view",
    "CurvesView": "curves_view",
    "StylesView": "styles_view",
}

__all__ = [
    "AudioPlayer",
    "AudioView",
    "CurvesView",
    "DetView",
    "DetectionDemo",
    "KerasStylesStepper",
    "LiveDetector",
    "LiveSession",
    "StylesView",
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
