"""Old module paths of modules that moved: ``import twd_lab.inference`` gives ``twd_lab.detectors.lab_network``.

The moved files are gone from their old places (so git follows the renames), and every old path stays
importable: :class:`MovedModules`, on ``sys.meta_path``, answers an old name with the moved module
itself (the very same object, so ``monkeypatch`` and ``isinstance`` see one module, not a copy).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

#: old module name -> where it lives now
MOVED = {
    "twd_lab.inference": "twd_lab.detectors.lab_network",
    "twd_lab.streaming": "twd_lab.detectors.live",
    "twd_lab.embedding": "twd_lab.detectors.speech_embedding",
    "twd_lab.embedding_streaming": "twd_lab.detectors.embedding_stream",
    "twd_lab.numpy_head": "twd_lab.detectors.numpy_head",
    "twd_lab.file_detection": "twd_lab.detectors.files",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name of :data:`MOVED` and loads it as the moved module."""

    def find_spec(self, name, path=None, target=None):
        if name not in MOVED:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        spec.loader_state = module.__spec__  # its own spec, which the import system is about to replace
        return module

    def exec_module(self, module) -> None:
        # the import system stamped the alias's spec on the module: give it back its own
        own = module.__spec__.loader_state
        if own is not None:
            module.__spec__ = own


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModules())  # before any finder that could find a stale old file
