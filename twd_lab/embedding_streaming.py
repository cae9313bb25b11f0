"""Moved to :mod:`twd_lab.detectors.embedding_stream`; this name stays importable (the very same module)."""

import sys

from twd_lab.detectors import embedding_stream as _moved

sys.modules[__name__] = _moved
