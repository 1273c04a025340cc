"""The kernel MODEL: pure, deterministic, virtual time, no real I/O.

`ModelKernel` implements `simulator.uapi.Kernel`; the modules beside it are the kernel's own
structures, each named after the file it mirrors (eventpoll <- ``fs/eventpoll.c``,
selectpoll <- ``fs/select.c``, sockets <- ``net/unix/af_unix.c`` and ``net/ipv4/tcp*.c``).
"""

from simulator.kernel.model import ModelKernel

__all__ = ["ModelKernel"]
