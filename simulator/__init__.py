"""muxlab's headless half: the user-space API, the kernel model, the live engine, scenarios.

Never imports textual: everything here runs in CI, in scripts and under ``--headless``.
Importing a bottom-layer module (`simulator.uapi`, `simulator.observe`, `simulator.syscalls`,
`simulator.conversions`) loads neither the model nor the live engine: `ModelKernel` and
`LiveKernel` are imported on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.kernel import ModelKernel
    from simulator.live import LiveKernel

_LAZY = {"ModelKernel": "simulator.kernel", "LiveKernel": "simulator.live"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["LiveKernel", "ModelKernel"]
