"""muxlab's headless half: the user-space API, the kernel model, the live engine, scenarios.

Never imports textual: everything here runs in CI, in scripts and under ``--headless``.
`ModelKernel` and `LiveKernel` are loaded when first used, so that the bottom layer
(`simulator.uapi`, `simulator.syscalls`, `simulator.conversions`) can be imported without the
model or the live engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.kernel import ModelKernel
    from simulator.live import LiveKernel

__all__ = ["LiveKernel", "ModelKernel"]


def __getattr__(name: str) -> Any:
    if name == "ModelKernel":
        from simulator.kernel import ModelKernel

        return ModelKernel
    if name == "LiveKernel":
        from simulator.live import LiveKernel

        return LiveKernel
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
