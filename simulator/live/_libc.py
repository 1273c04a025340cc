"""The few libc calls the live child needs that Python does not wrap (Linux only).

Bound through ``ctypes.CDLL(None)`` -- the symbols already loaded into the interpreter -- so
binding opens no file. Only the child imports this module, at start-up.

- ``epoll_ctl``/``epoll_wait`` on a raw epfd number: ``select.epoll.fromfd`` would do, but its
  object closes the fd when collected, and the protocol must never close a descriptor behind
  the caller's back.
- ``getsockopt(TCP_INFO)`` on a raw fd, for the TCP settle loop (cheaper than wrapping the fd
  in a ``socket.socket``, which costs three getsockopt calls).
- ``prctl(PR_SET_PDEATHSIG)`` and ``unshare(CLONE_FILES)`` for the child's start-up.
"""

from __future__ import annotations

import ctypes
import os
import platform
import socket
from dataclasses import dataclass

_libc = ctypes.CDLL(None, use_errno=True)

PR_SET_PDEATHSIG = 1
CLONE_FILES = 0x400

# tcp_states.h
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_SYN_RECV = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8
TCP_LISTEN = 10

#: ioctl numbers (asm-generic/ioctls.h, linux/sockios.h): bytes unread; bytes not yet
#: acknowledged; bytes not yet sent.
SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
SIOCOUTQNSD = 0x894B


class EpollEvent(ctypes.Structure):
    """``struct epoll_event``: packed on x86-64 only (``__EPOLL_PACKED`` in sys/epoll.h)."""

    if platform.machine() in ("x86_64", "AMD64", "amd64"):
        _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


_libc.epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(EpollEvent)]
_libc.epoll_ctl.restype = ctypes.c_int
_libc.epoll_wait.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_libc.epoll_wait.restype = ctypes.c_int
_libc.getsockopt.argtypes = [
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint32),
]
_libc.setsockopt.argtypes = [
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_uint32,
]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.unshare.argtypes = [ctypes.c_int]


def _raise_errno() -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err))


def epoll_ctl(epfd: int, op: int, fd: int, events: int) -> None:
    """epoll_ctl(2) with ``data.fd = fd``, as CPython fills it; raises OSError(errno)."""
    event = EpollEvent(events, fd)
    if _libc.epoll_ctl(epfd, op, fd, ctypes.byref(event)) < 0:
        _raise_errno()


def epoll_wait(epfd: int, buffer: ctypes.Array[EpollEvent], maxevents: int, timeout_ms: int) -> int:
    """epoll_wait(2) into `buffer`; returns the event count or raises OSError(errno)."""
    count: int = _libc.epoll_wait(epfd, ctypes.addressof(buffer), maxevents, timeout_ms)
    if count < 0:
        _raise_errno()
    return count


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """The fields of ``struct tcp_info`` the settle loop reads.

    `unacked` is ``packets_out`` (segments sent and not yet acknowledged, SYN and FIN included)
    -- except on a listener, where the kernel reports its accept-queue length there and the
    queue's limit (``sk_max_ack_backlog``) in `sacked`.
    """

    state: int
    unacked: int
    sacked: int


_TCP_INFO_SIZE = 32  # tcpi_state ... tcpi_sacked: 8 one-byte fields, then u32s up to offset 28


def tcp_info(fd: int) -> TcpInfo | None:
    """getsockopt(TCP_INFO), or None when `fd` is not an open TCP socket."""
    buffer = ctypes.create_string_buffer(_TCP_INFO_SIZE)
    size = ctypes.c_uint32(_TCP_INFO_SIZE)
    if _libc.getsockopt(fd, socket.IPPROTO_TCP, socket.TCP_INFO, buffer, ctypes.byref(size)) < 0:
        return None
    raw = buffer.raw
    return TcpInfo(
        state=raw[0],
        unacked=int.from_bytes(raw[24:28], "little"),
        sacked=int.from_bytes(raw[28:32], "little"),
    )


def set_parent_death_signal(signum: int) -> None:
    """prctl(PR_SET_PDEATHSIG): receive `signum` when the thread that forked us exits."""
    if _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) < 0:
        _raise_errno()


#: The name (``/proc/<pid>/task/<tid>/comm``) the child gives the real thread that runs
#: protocol thread N's call: this prefix, then N (read by `LiveKernel.proc_threads`).
THREAD_NAME = "muxlab-t"
PR_SET_NAME = 15


def set_thread_name(name: str) -> None:
    """prctl(PR_SET_NAME): the calling thread's name in /proc (at most 15 bytes kept)."""
    buffer = ctypes.create_string_buffer(name.encode()[:15])
    if _libc.prctl(PR_SET_NAME, ctypes.addressof(buffer), 0, 0, 0) < 0:
        _raise_errno()


def unshare_files() -> None:
    """unshare(CLONE_FILES): take a private copy of the fd table (only if it is shared)."""
    if _libc.unshare(CLONE_FILES) < 0:
        _raise_errno()
