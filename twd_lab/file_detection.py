"""Moved to :mod:`twd_lab.detectors.files`; this name stays importable (the very same module)."""

import sys

from twd_lab.detectors import files as _moved

sys.modules[__name__] = _moved
