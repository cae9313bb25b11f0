"""Moved to :mod:`twd_lab.detectors.speech_embedding`; this name stays importable (the very same module)."""

import sys

from twd_lab.detectors import speech_embedding as _moved

sys.modules[__name__] = _moved
