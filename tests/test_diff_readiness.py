"""Differential tests of socket readiness as epoll, poll and select report it:
docs/kernel-spec.md SK-3 (the readiness matrix, both families), SK-4 (full send buffers and
write-space edges), SK-6.

Each state is read three ways -- a throw-away epoll with the full mask, a zero-timeout poll
with the same mask, and select with the fd in all three sets -- and the three must agree with
each other (PS-3's mapping) as well as across the two kernels.

Rows of SK-3 the protocol cannot produce: a fresh unconnected socket (there is no bare
``socket()`` call), SO_RCVLOWAT (no setsockopt), TCP urgent data (no MSG_OOB).
"""

from __future__ import annotations

import errno

import pytest

from simulator.uapi import (
    EPOLLERR,
    EPOLLET,
    EPOLLHUP,
    EPOLLIN,
    EPOLLNVAL,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    Kernel,
)
from tests.diffkit import epoll_mask, epoll_with, pair, poll_mask, select_sets
from tests.twin import Twin

IN = EPOLLIN | EPOLLRDNORM
ERR, HUP, RDHUP = EPOLLERR, EPOLLHUP, EPOLLRDHUP
#: What "writable" looks like: AF_UNIX adds WRBAND, TCP never does (DIFF-3).
WRITABLE = {"unix": EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND, "tcp": EPOLLOUT | EPOLLWRNORM}


def readiness(twin: Twin, fd: int) -> int:
    """`fd`'s mask; epoll, poll and select must tell the same story (PS-3's mapping)."""
    mask = epoll_mask(twin, fd)
    assert poll_mask(twin, fd) == mask
    expected = (
        "r" * bool(mask & (IN | EPOLLRDBAND | HUP | ERR | EPOLLNVAL))
        + "w" * bool(mask & (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND | ERR | EPOLLNVAL))
        + "x" * bool(mask & (EPOLLPRI | EPOLLNVAL))
    )
    assert select_sets(twin, fd) == expected
    return mask


# --- SK-3, row by row -----------------------------------------------------------------------------


def test_idle_connected_socket_is_writable_only_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    assert readiness(twin, a) == WRITABLE[family]
    assert readiness(twin, b) == WRITABLE[family]


def test_peer_sent_data_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.send(b, 5)
    assert readiness(twin, a) == IN | WRITABLE[family]
    assert readiness(twin, b) == WRITABLE[family]


def test_peer_shut_wr_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.shutdown(b, SHUT_WR)
    assert readiness(twin, a) == IN | RDHUP | WRITABLE[family]
    assert readiness(twin, b) == WRITABLE[family]


def test_own_shut_rd_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.shutdown(a, SHUT_RD)
    assert readiness(twin, a) == IN | RDHUP | WRITABLE[family]
    assert readiness(twin, b) == WRITABLE[family]


def test_own_shut_rdwr_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.shutdown(a, SHUT_RDWR)
    assert readiness(twin, a) == IN | HUP | RDHUP | WRITABLE[family]
    # AF_UNIX mirrors both directions onto the peer; TCP's peer only got a FIN.
    peer_hup = HUP if family == "unix" else 0
    assert readiness(twin, b) == IN | RDHUP | peer_hup | WRITABLE[family]


def test_both_sides_shut_wr_is_hup_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.shutdown(a, SHUT_WR)
    twin.shutdown(b, SHUT_WR)
    for fd in (a, b):
        assert readiness(twin, fd) == IN | HUP | RDHUP | WRITABLE[family]


def test_unix_peer_close_is_hup_then_send_is_EPIPE_SK3_DIFF2(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.close(b)
    expected = IN | HUP | RDHUP | WRITABLE["unix"]
    assert readiness(twin, a) == expected
    with pytest.raises(BrokenPipeError):
        twin.send(a, 1)
    assert readiness(twin, a) == expected


def test_tcp_peer_close_is_only_rdhup_until_a_send_provokes_a_reset_SK3_DIFF2(
    twin: Twin,
) -> None:
    c, s = pair(twin, "tcp")
    twin.close(s)
    assert readiness(twin, c) == IN | RDHUP | WRITABLE["tcp"]  # a FIN: no HUP
    assert twin.send(c, 5) == 5
    assert readiness(twin, c) == IN | ERR | HUP | RDHUP | WRITABLE["tcp"]
    with pytest.raises(BrokenPipeError):  # the pending EPIPE is reported and cleared
        twin.send(c, 5)
    assert readiness(twin, c) == IN | HUP | RDHUP | WRITABLE["tcp"]


def test_peer_close_with_unread_data_is_a_reset_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.send(a, 3)  # b dies with these bytes unread
    twin.close(b)
    assert readiness(twin, a) == IN | ERR | HUP | RDHUP | WRITABLE[family]
    with pytest.raises(ConnectionResetError):
        twin.recv(a, 10)
    assert readiness(twin, a) == IN | HUP | RDHUP | WRITABLE[family]  # ERR was consumed
    assert twin.recv(a, 10) == 0


def test_peer_abort_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.abort(b)  # SO_LINGER {1, 0}: a reset on TCP, a plain close on AF_UNIX
    if family == "tcp":
        assert readiness(twin, a) == IN | ERR | HUP | RDHUP | WRITABLE["tcp"]
        with pytest.raises(ConnectionResetError):
            twin.recv(a, 10)
    else:
        assert readiness(twin, a) == IN | HUP | RDHUP | WRITABLE["unix"]
    assert twin.recv(a, 10) == 0


def test_peer_sent_data_then_closed_SK3(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.send(b, 5)
    twin.close(b)
    peer_hup = HUP if family == "unix" else 0
    assert readiness(twin, a) == IN | RDHUP | peer_hup | WRITABLE[family]
    assert twin.recv(a, 10) == 5  # the data is still there
    assert twin.recv(a, 10) == 0
    assert readiness(twin, a) == IN | RDHUP | peer_hup | WRITABLE[family]


def test_listening_socket_is_readable_only_while_a_connection_is_queued_SK3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    assert readiness(twin, listener) == 0
    client = twin.tcp_connect(listener)
    assert readiness(twin, listener) == IN
    assert readiness(twin, client) == WRITABLE["tcp"]  # connected on return
    server = twin.accept(listener)
    assert readiness(twin, listener) == 0
    assert readiness(twin, server) == WRITABLE["tcp"]


def test_every_new_connection_is_an_edge_on_the_listener_EP14_SK3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    ep = epoll_with(twin, (listener, EPOLLIN | EPOLLET))
    twin.tcp_connect(listener)
    assert twin.epoll_wait(ep, 8, 0) == [(listener, EPOLLIN)]
    twin.tcp_connect(listener)  # still readable, but a new connection is a new wake-up
    assert twin.epoll_wait(ep, 8, 0) == [(listener, EPOLLIN)]
    twin.accept(listener)  # taking one off the queue is no edge
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.accept(listener)
    assert readiness(twin, listener) == 0


def test_pending_connection_whose_client_already_closed_SK3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    client = twin.tcp_connect(listener)
    twin.close(client)
    assert readiness(twin, listener) == IN
    server = twin.accept(listener)
    assert readiness(twin, server) == IN | RDHUP | WRITABLE["tcp"]
    assert twin.recv(server, 10) == 0


def test_connect_to_a_port_nobody_listens_on_SK3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    client = twin.tcp_connect(listener)
    server = twin.accept(listener)
    twin.close(listener)  # server still owns the port, but nobody listens on it
    refused = twin.tcp_connect(server)
    assert readiness(twin, refused) == IN | ERR | HUP | RDHUP | WRITABLE["tcp"]
    with pytest.raises(ConnectionRefusedError):
        twin.recv(refused, 10)
    assert readiness(twin, refused) == IN | HUP | RDHUP | WRITABLE["tcp"]
    assert readiness(twin, client) == WRITABLE["tcp"]
    unix, _peer = twin.socketpair()
    with pytest.raises(OSError) as info:  # an AF_UNIX "address": the wrong family
        twin.tcp_connect(unix)
    assert info.value.errno == errno.EAFNOSUPPORT


def test_regular_file_is_always_ready_to_poll_and_select_SK6(twin: Twin) -> None:
    f = twin.open_file()
    assert poll_mask(twin, f) == IN | EPOLLOUT | EPOLLWRNORM
    assert select_sets(twin, f) == "rw"
    with pytest.raises(PermissionError):
        epoll_mask(twin, f)


def test_listener_stays_ready_while_accept_fails_EMFILE_SK5(twin: Twin) -> None:
    listener = twin.tcp_listen()
    spare = twin.open_file()
    client = twin.tcp_connect(listener)
    ep = epoll_with(twin, (listener, EPOLLIN))
    twin.setrlimit_nofile(ep + 1)
    for _ in range(3):  # the connection stays queued: a level-triggered loop would spin
        with pytest.raises(OSError) as info:
            twin.accept(listener)
        assert info.value.errno == errno.EMFILE
        assert twin.epoll_wait(ep, 8, 0) == [(listener, EPOLLIN)]
    twin.close(spare)  # the reserve-fd trick
    twin.close(twin.accept(listener))
    assert twin.open_file() == spare
    assert twin.epoll_wait(ep, 8, 0) == []
    assert twin.recv(client, 10) == 0


# --- SK-4: full send buffers and write-space edges ------------------------------------------------


def test_unix_full_buffer_clears_out_until_a_quarter_is_left_SK4(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.fill(a)
    assert readiness(twin, a) == 0
    assert readiness(twin, b) == IN | WRITABLE["unix"]
    reads = 0
    while not readiness(twin, a) & EPOLLOUT:
        assert twin.recv(b, 16384) == 16384
        reads += 1
    assert reads > 1  # writable again only once at most sndbuf/4 is in flight
    assert readiness(twin, a) == WRITABLE["unix"]


def test_unix_et_out_edge_on_every_consumed_skb_SK4_DIFF5(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLOUT | EPOLLET))
    assert twin.epoll_wait(ep, 8, 0) == [(a, EPOLLOUT)]
    twin.send(a, 10)
    twin.send(a, 10)
    assert twin.epoll_wait(ep, 8, 0) == []  # sending is no edge
    assert twin.recv(b, 5) == 5  # half an skb: still charged to a
    assert twin.epoll_wait(ep, 8, 0) == []
    assert twin.recv(b, 5) == 5  # the skb is freed: write space, an edge
    assert twin.epoll_wait(ep, 8, 0) == [(a, EPOLLOUT)]
    assert twin.recv(b, 10) == 10
    assert twin.epoll_wait(ep, 8, 0) == [(a, EPOLLOUT)]
    assert twin.epoll_wait(ep, 8, 0) == []


def _drain(kernel: Kernel, fd: int) -> int:
    total = 0
    while True:
        try:
            got = kernel.recv(fd, 1 << 20)
        except BlockingIOError:
            return total
        total += got


def test_tcp_et_out_edge_only_after_a_full_buffer_drains_SK4_DIFF5(twin: Twin) -> None:
    c, s = pair(twin, "tcp")
    ep = epoll_with(twin, (c, EPOLLOUT | EPOLLET))
    assert twin.epoll_wait(ep, 8, 0) == [(c, EPOLLOUT)]
    twin.send(c, 10)
    assert twin.recv(s, 10) == 10
    assert twin.epoll_wait(ep, 8, 0) == []  # ordinary reads make no write-space edge
    # How much a TCP fill takes depends on autotuning (DIFF-6): filled and drained per kernel.
    for kernel in (twin.model, twin.live):
        assert kernel.fill(c) > 0
    assert not readiness(twin, c) & EPOLLOUT
    assert twin.epoll_wait(ep, 8, 0) == []
    for kernel in (twin.model, twin.live):
        assert _drain(kernel, s) > 0
    assert twin.epoll_wait(ep, 8, 0) == [(c, EPOLLOUT)]
    assert twin.epoll_wait(ep, 8, 0) == []
    assert readiness(twin, c) == WRITABLE["tcp"]


@pytest.mark.parametrize("how", [SHUT_WR, SHUT_RDWR])
def test_send_after_own_shutdown_is_EPIPE_but_still_writable_SK2(twin: Twin, how: int) -> None:
    c, _s = pair(twin, "tcp")
    twin.shutdown(c, how)
    with pytest.raises(OSError) as info:
        twin.send(c, 1)
    assert info.value.errno == errno.EPIPE
    assert readiness(twin, c) & EPOLLOUT
