"""The live engine: the `Kernel` protocol over real syscalls, in a child process.

`LiveKernel` is the public name; `simulator.live.kernel` documents the design (control
channel on the child's fds 0 and 1, fd-table capacity, settling, errors).
"""

from simulator.live.kernel import LiveKernel

__all__ = ["LiveKernel"]
