"""The build's one step pyproject.toml cannot say: compile the interest tree with mypyc.

`simulator/kernel/rbtree.py` stays pure Python and is the source of truth. When the build has
mypyc (a build requirement in pyproject.toml) and a C compiler, it also compiles that module
into an extension beside it (``pip install -e .`` puts it in the source tree), which the import
finds first. If generating or compiling the C fails (no compiler, no Python headers), the build
says so in one line and installs the pure module alone: muxlab works the same, only the tree is
slower. ``MUXLAB_PURE_PYTHON=1`` at build time skips the compilation; at run time it makes the
import take the source file even when the extension exists (`simulator.kernel`).

The C mypyc generates, its object files and its type-check cache go to a temporary directory
inside ``build/`` (removed after the build), never beside the checkout; the compiled ``*.so``
files beside rbtree.py are git-ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = ["simulator/kernel/rbtree.py"]


def _warn(reason: object) -> None:
    text = str(reason).strip() or repr(reason)
    first_line = text.splitlines()[0]
    if len(first_line) > 160:  # a failed compiler command line is long
        first_line = first_line[:157] + "..."
    print(
        f"muxlab: the red-black tree stays pure Python (compiling it failed: {first_line})",
        file=sys.stderr,
    )


def _remove_scratch(scratch: str, created_build: bool) -> None:
    """Remove mypyc's scratch directory, and build/ too if this build made it and it is empty."""
    shutil.rmtree(scratch, ignore_errors=True)
    if created_build:
        with contextlib.suppress(OSError):
            os.rmdir("build")


#: setup.py's commands that build extensions (the rest, such as egg_info, only read metadata)
_BUILDING = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def _extensions() -> list[Any]:
    """mypyc's extensions for `COMPILED`, or none (with the warning) if it cannot make them."""
    if os.environ.get("MUXLAB_PURE_PYTHON") == "1" or not _BUILDING.intersection(sys.argv):
        return []
    # setuptools accepts only relative source paths, and puts each object file at the build's
    # temporary directory joined with its source's path: a path with ".." (the system's temp
    # directory, seen from here) put them outside the build, beside the checkout. The scratch
    # directory is therefore made inside build/ (git-ignored) and removed with it when empty.
    created_build = not os.path.isdir("build")
    os.makedirs("build", exist_ok=True)
    scratch = os.path.relpath(tempfile.mkdtemp(prefix="muxlab-mypyc-", dir="build"))
    atexit.register(_remove_scratch, scratch, created_build)  # after build_ext used it
    try:
        from mypyc.build import mypycify

        return list(
            mypycify(
                ["--cache-dir", os.path.join(scratch, "mypy-cache"), *COMPILED],
                opt_level="3",
                target_dir=os.path.join(scratch, "c"),
            )
        )
    except BaseException as error:  # mypyc reports a failed type check with SystemExit
        if isinstance(error, KeyboardInterrupt):
            raise
        _warn(error)
        return []


class OptionalBuildExt(build_ext):
    """build_ext that falls back to the pure module instead of failing the install.

    mypyc makes two extensions (the compiled code, then a small module that loads it): if one
    fails, the others are not built and any already built is removed, so the import never
    finds half a compiled module."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            _warn(error)
            for ext in self.extensions:
                for path in (self.get_ext_fullpath(ext.name), self._inplace_path(ext.name)):
                    if os.path.exists(path):
                        os.remove(path)

    def _inplace_path(self, name: str) -> str:
        """Where an in-place (editable) build puts extension `name`."""
        *package, module = name.split(".")
        filename = os.path.basename(self.get_ext_filename(module))
        return os.path.join(*package, filename)


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
