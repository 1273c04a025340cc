"""The live engine: the `Kernel` protocol over real syscalls, in a child process.

`LiveKernel` is the public name; `simulator.live.kernel` documents the design (control
channel on the child's fds 0 and 1, fd-table capacity, settling, errors).

`LiveKernel` is imported on first use (PEP 562): the child (`simulator.live._child`) is a
module of this package and needs none of the parent's side (subprocess, threads, futures,
`simulator.observe`), which was a third of its import time (0.24 -> 0.17 s of CPU), paid at
every live kernel's start: 325 of the test suite's tests start one through its twin fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.live.kernel import LiveKernel


def __getattr__(name: str) -> object:
    if name != "LiveKernel":
        raise AttributeError(f"module 'simulator.live' has no attribute {name!r}")
    from simulator.live.kernel import LiveKernel

    globals()[name] = LiveKernel
    return LiveKernel


__all__ = ["LiveKernel"]
