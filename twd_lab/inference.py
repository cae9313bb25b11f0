"""Moved to :mod:`twd_lab.detectors.lab_network`; this name stays importable (the very same module)."""

import sys

from twd_lab.detectors import lab_network as _moved

sys.modules[__name__] = _moved
