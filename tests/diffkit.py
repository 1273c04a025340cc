"""Helpers shared by the multiplexer differential tests (`test_diff_epoll*.py`, ...).

Everything here goes through a `Twin`, so each helper call is itself checked on both kernels.
Tests of behaviours AF_UNIX and TCP share take the ``family`` fixture (conftest) and build
their sockets with `pair`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.uapi import (
    EPOLL_CTL_ADD,
    EPOLLIN,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    WaitForeverError,
)
from tests.twin import Twin

#: The mask SK-3 was measured with: every readiness bit a socket can report.
FULL = (
    EPOLLIN
    | EPOLLPRI
    | EPOLLOUT
    | EPOLLRDHUP
    | EPOLLRDNORM
    | EPOLLWRNORM
    | EPOLLRDBAND
    | EPOLLWRBAND
)


def pair(twin: Twin, family: str) -> tuple[int, int]:
    """Two connected stream sockets: a socketpair, or (client, accepted server) over TCP."""
    if family == "unix":
        ends: tuple[int, int] = twin.socketpair()
        return ends
    listener = twin.tcp_listen()
    client = twin.tcp_connect(listener)
    server = twin.accept(listener)
    twin.close(listener)
    return client, server


def epoll_with(twin: Twin, *items: tuple[int, int]) -> int:
    """A new epoll instance with `(fd, events)` registered in that order."""
    ep: int = twin.epoll_create()
    for fd, events in items:
        twin.epoll_ctl(ep, EPOLL_CTL_ADD, fd, events)
    return ep


def epoll_mask(twin: Twin, fd: int, events: int = FULL) -> int:
    """`fd`'s readiness as a throw-away epoll reports it (0 when nothing is reported)."""
    ep = epoll_with(twin, (fd, events))
    got = twin.epoll_wait(ep, 8, 0)
    twin.close(ep)
    assert len(got) <= 1
    return got[0][1] if got else 0


def poll_mask(twin: Twin, fd: int, events: int = FULL) -> int:
    """`fd`'s revents from a zero-timeout poll (0 when nothing is reported)."""
    got = twin.poll([(fd, events)], 0)
    assert len(got) <= 1
    return got[0][1] if got else 0


def select_sets(twin: Twin, fd: int) -> str:
    """Which of select's sets `fd` lands in, as a string of r/w/x (e.g. ``"rw"``)."""
    r, w, x = twin.select([fd], [fd], [fd], 0)
    return "r" * len(r) + "w" * len(w) + "x" * len(x)


def interest_list(twin: Twin, epfd: int) -> list[tuple[int, int, int]]:
    """The epoll's stored ``(fd, events, data)`` items, the same on both kernels.

    The one view not covered by the protocol: the live side reads /proc/<pid>/fdinfo/<epfd>
    (EP-1), the model its interest tree. Sorted by fd, because the kernel's tree order
    follows ``struct file`` addresses.
    """
    model = twin.model
    live = twin.live
    assert isinstance(model, ModelKernel) and isinstance(live, LiveKernel)
    stored = sorted((e.fd, e.events, e.data) for e in model.epoll(epfd).items())
    real = sorted((e["tfd"], e["events"], e["data"]) for e in live.fdinfo(epfd))
    assert stored == real, f"interest lists differ: model {stored}, real {real}"
    return real


def waits_forever(twin: Twin, call: Callable[[Any], object]) -> None:
    """`call(kernel)` raises WaitForeverError on both kernels.

    Checked per kernel rather than through the twin: the two messages differ by design (the
    live one says how long it waited), and `Twin` compares messages.
    """
    for kernel in (twin.model, twin.live):
        with pytest.raises(WaitForeverError):
            call(kernel)
