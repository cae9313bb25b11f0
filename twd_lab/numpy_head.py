"""Moved to :mod:`twd_lab.detectors.numpy_head`; this name stays importable (the very same module)."""

import sys

from twd_lab.detectors import numpy_head as _moved

sys.modules[__name__] = _moved
