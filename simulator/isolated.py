"""Starting a Python interpreter of ours that never imports from the user's directory.

``python -m module`` puts the working directory first on ``sys.path``: a lesson folder holding a
``tempfile.py`` (or a ``tui.py``) would have it imported and run by the live child or by the app
that `muxlab serve` starts. Every interpreter muxlab launches goes through `python_command`.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The directory that holds the `simulator` (and `tui`) packages this process runs.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


def python_command(module: str, *, site: bool = True) -> list[str]:
    """The argv that runs `module` as ``__main__`` in this interpreter, isolated.

    ``python -m module`` would put the working directory first on ``sys.path``, so a lesson
    folder holding a ``tempfile.py`` (or a ``tui.py``) would have it imported and run. ``-I``
    (isolated mode) keeps the working directory, PYTHONPATH, the PYTHON* variables and the user
    site out; the packages come from this interpreter's site-packages (where an editable install
    puts its finder) or from the directory this process imported them from, which the bootstrap
    puts first on the path explicitly.

    ``site=False`` adds ``-S`` for a module that needs only the standard library and this
    project (the live kernel's child): no site-packages, no ``.pth`` files, no editable-install
    finder -- which is half of such an interpreter's start-up (~60 of ~130 ms of CPU). The
    project still comes from the directory this process imported it from (for an installed
    wheel, that directory is site-packages itself).
    """
    bootstrap = (
        f"import runpy, sys; sys.path.insert(0, {_PROJECT_ROOT!r}); "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-I", *([] if site else ["-S"]), "-c", bootstrap]
