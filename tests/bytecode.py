"""A pytest plugin loaded before any other (``-p tests.bytecode`` in pyproject's addopts): the
suite writes bytecode caches even where ``PYTHONDONTWRITEBYTECODE`` is set.

pytest rewrites the asserts of every test module, and of every plugin package it loads
(hypothesis's 73 modules, syrupy, xdist, pytest-asyncio, platformdirs: ~110 in all), and
caches the result beside each in ``__pycache__``, unless bytecode is not to be written
(``PYTHONDONTWRITEBYTECODE``, as some machines set): then every run, and every xdist worker of
it, parses and compiles them all again -- ~1.5 s of CPU a process for the plugins alone, ~4 s
for the test modules. The plugins are rewritten as pytest loads them, before any conftest, so
this is a plugin named first on the command line: ``-p`` plugins are imported before the
installed ones. The modules of muxlab the tests import are cached too, and the `muxlab`
subprocesses the tests start then read their bytecode instead of compiling them each time.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = False
