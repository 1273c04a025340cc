"""The kernel MODEL: pure, deterministic, virtual time, no real I/O.

`ModelKernel` implements `simulator.uapi.Kernel`; the modules beside it are the kernel's own
structures, each named after the file it mirrors (eventpoll <- ``fs/eventpoll.c``,
selectpoll <- ``fs/select.c``, sockets <- ``net/unix/af_unix.c`` and ``net/ipv4/tcp*.c``).
"""

# --- the interest tree: compiled or pure (setup.py) -------------------------------------
# An install from source may have compiled `rbtree` with mypyc into an extension beside
# rbtree.py, which the import would take first. The source file is taken instead when
# MUXLAB_PURE_PYTHON=1, when the extension is older than the source (an edit since the last
# install: running stale compiled code would be wrong, silently), and when half of it is
# missing (mypyc makes a small module that loads its code from ``rbtree__mypyc``).
import importlib.util as _util
import os as _os
import sys as _sys
from types import ModuleType as _ModuleType


def load_source(name: str, alias: str | None = None) -> _ModuleType:
    """Import module `name` (a ``simulator.kernel`` module) from its ``.py`` file, even where
    a compiled extension of it exists, as `alias` (default: `name` itself, replacing it)."""
    path = _os.path.join(_os.path.dirname(__file__), name.rpartition(".")[2] + ".py")
    spec = _util.spec_from_file_location(alias or name, path)
    assert spec is not None and spec.loader is not None
    module = _util.module_from_spec(spec)
    _sys.modules[alias or name] = module
    spec.loader.exec_module(module)
    return module


def _tree_source_wanted() -> bool:
    if _os.environ.get("MUXLAB_PURE_PYTHON") == "1":
        return True
    spec = _util.find_spec("simulator.kernel.rbtree")
    origin = spec.origin if spec is not None else None
    if origin is None or origin.endswith(".py"):
        return False  # nothing compiled: the normal import takes the source
    folder = _os.path.dirname(origin)
    if not any(name.startswith("rbtree__mypyc.") for name in _os.listdir(folder)):
        return True
    return _os.path.getmtime(origin) < _os.path.getmtime(_os.path.join(folder, "rbtree.py"))


if _tree_source_wanted():
    load_source("simulator.kernel.rbtree")
# ------------------------------------------------------------------------------------------

from simulator.kernel.model import ModelKernel  # noqa: E402

__all__ = ["ModelKernel", "load_source"]
