"""Differential tests of descriptors and sockets: the model against the real kernel.

Every call goes through `Twin`, so each line below is checked on both kernels; the asserted
values document what Linux does (docs/kernel-spec.md SK-*, EP-20, SK-5).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from simulator.uapi import SHUT_RD, SHUT_RDWR, SHUT_WR
from tests.twin import Twin


def test_first_descriptor_is_3_and_numbers_are_reused_lowest_first(twin: Twin) -> None:
    assert twin.socketpair() == (3, 4)
    assert twin.open_file() == 5
    twin.close(3)
    assert twin.tcp_listen() == 3
    twin.close(4)
    assert twin.socketpair() == (4, 6)


def test_close_of_a_closed_or_unknown_fd_is_EBADF(twin: Twin) -> None:
    a, _b = twin.socketpair()
    twin.close(a)
    for fd in (a, 999, -1):
        with pytest.raises(OSError) as info:
            twin.close(fd)
        assert info.value.errno == errno.EBADF


def test_dup_gives_the_lowest_free_number_for_the_same_socket(twin: Twin) -> None:
    a, b = twin.socketpair()
    d = twin.dup(a)
    assert d == 5
    twin.send(b, 7)
    assert twin.recv(d, 100) == 7  # the same open file description
    twin.close(a)
    twin.send(b, 3)
    assert twin.recv(d, 100) == 3  # still open through the dup
    with pytest.raises(OSError) as info:
        twin.dup(a)
    assert info.value.errno == errno.EBADF


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_send_and_recv_counts(twin: Twin, kind: str) -> None:
    a, b = _pair(twin, kind)
    assert twin.send(a, 10) == 10
    assert twin.send(a, 5) == 5
    assert twin.recv(b, 4) == 4
    assert twin.recv(b, 100) == 11
    assert twin.send(b, 0) == 0


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_recv_on_an_empty_socket_is_EAGAIN(twin: Twin, kind: str) -> None:
    a, _b = _pair(twin, kind)
    with pytest.raises(BlockingIOError):
        twin.recv(a, 10)


def test_unix_fill_stops_at_the_senders_skb_accounting_SK4(twin: Twin) -> None:
    a, b = twin.socketpair()
    assert twin.fill(a) == 233152  # 64 KiB sends, each charged its skbs' truesize
    with pytest.raises(BlockingIOError):
        twin.send(a, 1)
    assert twin.recv(b, 1000) == 1000  # a partly read skb keeps its charge...
    with pytest.raises(BlockingIOError):
        twin.send(a, 1)
    assert twin.recv(b, 40000) == 40000
    assert twin.send(a, 100) == 100  # ...a consumed one gives the space back


def test_tcp_fill_then_EAGAIN(twin: Twin) -> None:
    # The byte count of a TCP fill depends on autotuning (DIFF-6) and is not compared; the
    # fact that the buffer ends up full is.
    model_fill = twin.model.fill
    live_fill = twin.live.fill
    c, _s = _pair(twin, "tcp")
    assert model_fill(c) > 0 and live_fill(c) > 0
    with pytest.raises(BlockingIOError):
        twin.send(c, 1)


@pytest.mark.parametrize("kind", ["unix", "tcp"])
@pytest.mark.parametrize("how", [SHUT_WR, SHUT_RDWR])
def test_eof_after_peer_shutdown(twin: Twin, kind: str, how: int) -> None:
    a, b = _pair(twin, kind)
    twin.send(a, 3)
    twin.shutdown(a, how)
    assert twin.recv(b, 10) == 3  # data first...
    assert twin.recv(b, 10) == 0  # ...then end of stream
    with pytest.raises(BrokenPipeError):
        twin.send(a, 1)


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_eof_after_peer_close(twin: Twin, kind: str) -> None:
    a, b = _pair(twin, kind)
    twin.send(a, 2)
    twin.close(a)
    assert twin.recv(b, 10) == 2
    assert twin.recv(b, 10) == 0


def test_shutdown_rd_makes_own_reads_eof_and_peer_writes_fail_unix(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.shutdown(a, SHUT_RD)
    assert twin.recv(a, 10) == 0
    with pytest.raises(BrokenPipeError):
        twin.send(b, 1)


def test_unix_send_after_peer_close_is_EPIPE_DIFF2(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.close(b)
    with pytest.raises(BrokenPipeError):
        twin.send(a, 1)


def test_tcp_send_after_peer_close_succeeds_then_EPIPE_DIFF2(twin: Twin) -> None:
    c, s = _pair(twin, "tcp")
    twin.close(s)
    assert twin.send(c, 5) == 5  # reaches the closed socket, which answers with a reset
    with pytest.raises(BrokenPipeError):
        twin.send(c, 5)


def test_unix_close_with_unread_data_resets_the_peer_SK3(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.send(a, 4)
    twin.close(b)  # b dies with 4 unread bytes
    with pytest.raises(ConnectionResetError):
        twin.recv(a, 10)
    assert twin.recv(a, 10) == 0


def test_tcp_abort_resets_the_peer(twin: Twin) -> None:
    c, s = _pair(twin, "tcp")
    twin.abort(c)
    with pytest.raises(ConnectionResetError):
        twin.recv(s, 10)
    assert twin.recv(s, 10) == 0


def test_accept_on_an_empty_backlog_is_EAGAIN(twin: Twin) -> None:
    lfd = twin.tcp_listen()
    with pytest.raises(BlockingIOError):
        twin.accept(lfd)


def test_accept_takes_connections_in_arrival_order(twin: Twin) -> None:
    lfd = twin.tcp_listen()
    c1 = twin.tcp_connect(lfd)
    c2 = twin.tcp_connect(lfd)
    s1 = twin.accept(lfd)
    s2 = twin.accept(lfd)
    twin.send(c2, 2)
    twin.send(c1, 1)
    assert twin.recv(s1, 10) == 1
    assert twin.recv(s2, 10) == 2


def test_send_on_a_regular_file_is_ENOTSOCK(twin: Twin) -> None:
    f = twin.open_file()
    call: Callable[[], object]  # the lambdas below
    for call in (lambda: twin.send(f, 1), lambda: twin.recv(f, 1)):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.ENOTSOCK


def test_socketpair_needs_two_free_descriptors_EMFILE(twin: Twin) -> None:
    twin.setrlimit_nofile(6)
    assert twin.socketpair() == (3, 4)
    with pytest.raises(OSError) as info:
        twin.socketpair()  # only fd 5 is left
    assert info.value.errno == errno.EMFILE
    assert twin.open_file() == 5  # the failed call took nothing
    with pytest.raises(OSError) as info:
        twin.open_file()
    assert info.value.errno == errno.EMFILE


def test_accept_at_the_limit_is_EMFILE_even_with_an_empty_queue_SK5(twin: Twin) -> None:
    lfd = twin.tcp_listen()
    twin.setrlimit_nofile(4)
    with pytest.raises(OSError) as info:
        twin.accept(lfd)
    assert info.value.errno == errno.EMFILE


def test_the_reserve_fd_trick_SK5(twin: Twin) -> None:
    lfd = twin.tcp_listen()  # 3
    spare = twin.open_file()  # 4
    client = twin.tcp_connect(lfd)  # 5
    twin.setrlimit_nofile(6)
    for _ in range(3):  # the pending connection stays queued: the loop would spin
        with pytest.raises(OSError) as info:
            twin.accept(lfd)
        assert info.value.errno == errno.EMFILE
    twin.close(spare)
    conn = twin.accept(lfd)
    twin.close(conn)
    assert twin.open_file() == spare
    assert twin.recv(client, 10) == 0  # the client saw an orderly close


def test_setrlimit_past_the_hard_limit_is_ValueError(twin: Twin) -> None:
    with pytest.raises(ValueError):
        twin.setrlimit_nofile(2**40)


def _pair(twin: Twin, kind: str) -> tuple[int, int]:
    if kind == "unix":
        result: tuple[int, int] = twin.socketpair()
        return result
    lfd = twin.tcp_listen()
    c = twin.tcp_connect(lfd)
    s = twin.accept(lfd)
    return c, s
