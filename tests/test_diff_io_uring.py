"""Differential tests of io_uring: the model against the real io_uring of the running kernel.

Every call goes through `Twin`, so each line is checked on both kernels; the asserted values
document what Linux does (docs/kernel-spec.md IU-*, with the kernel source each comes from).
"""

from __future__ import annotations

import errno

import pytest

from simulator.live import _uring
from simulator.uapi import (
    EPOLLET,
    EPOLLIN,
    EPOLLOUT,
    EPOLLRDHUP,
    IOSQE_IO_DRAIN,
    IOSQE_IO_HARDLINK,
    IOSQE_IO_LINK,
    SHUT_WR,
    Cqe,
    Sqe,
)
from tests.diffkit import epoll_with, pair, waits_forever
from tests.twin import Twin

#: ``IORING_CQE_F_SOCK_NONEMPTY``.
NONEMPTY = 1 << 2
#: ``IOSQE_ASYNC``: not modelled, refused.
IOSQE_ASYNC = 1 << 4


def test_setup_rounds_the_sq_up_and_the_ring_fd_is_the_lowest_free(twin: Twin) -> None:
    """IU-1: io_uring_setup returns a descriptor like any other; 0 and > 32768 are EINVAL."""
    a, _b = twin.socketpair()
    ring = twin.io_uring_setup(3)
    assert ring == 5
    # SQ of 4 (3 rounded up): a batch of 6 NOPs submits 4, the rest are not queued.
    assert twin.io_uring_submit(ring, [Sqe("NOP", user_data=i) for i in range(6)]) == 4
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(i, 0) for i in range(4)]
    for entries in (0, 32769):
        with pytest.raises(OSError) as info:
            twin.io_uring_setup(entries)
        assert info.value.errno == errno.EINVAL
    assert twin.io_uring_setup(32768) == 6
    twin.close(ring)
    assert twin.dup(a) == 5


def test_the_ring_fd_counts_against_rlimit_nofile(twin: Twin) -> None:
    """IU-1: EMFILE at the limit, like any new descriptor."""
    twin.socketpair()
    twin.setrlimit_nofile(5)
    with pytest.raises(OSError) as info:
        twin.io_uring_setup(4)
    assert info.value.errno == errno.EMFILE


def test_recv_completes_inline_when_data_is_queued(twin: Twin, family: str) -> None:
    """IU-3: data already there: the CQE is posted by the submit itself; SOCK_NONEMPTY when
    bytes are left."""
    a, b = pair(twin, family)
    ring = twin.io_uring_setup(8)
    twin.send(b, 10)
    assert twin.io_uring_submit(ring, [Sqe("RECV", a, 4, user_data=1)]) == 1
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, 4, NONEMPTY)]
    twin.io_uring_submit(ring, [Sqe("RECV", a, 100, user_data=2)])
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(2, 6, 0)]


def test_recv_before_data_parks_and_completes_when_data_arrives(twin: Twin, family: str) -> None:
    """IU-4: no data: an internal poll is armed on the socket; the send that wakes it
    completes the RECV (task work), and the CQE is there when the send returns."""
    a, b = pair(twin, family)
    ring = twin.io_uring_setup(8)
    assert twin.io_uring_submit(ring, [Sqe("RECV", a, 100, user_data=7)]) == 1
    assert twin.io_uring_wait(ring, 0, 0) == []
    twin.send(b, 5)
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(7, 5, 0)]
    # end of stream: a parked RECV completes with 0 -- and TCP flags SOCK_NONEMPTY even so
    # (tcp_inq_hint says 1 once the FIN is in, SOCK_DONE; AF_UNIX counts bytes only)
    twin.io_uring_submit(ring, [Sqe("RECV", a, 100, user_data=8)])
    twin.shutdown(b, SHUT_WR)
    eof_flags = NONEMPTY if family == "tcp" else 0
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(8, 0, eof_flags)]


def test_several_ops_in_one_enter_complete_in_issue_order(twin: Twin) -> None:
    """IU-3: one batch, one syscall: inline completions are posted in submission order."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    twin.send(a, 3)
    sqes = [
        Sqe("SEND", a, 5, user_data=1),
        Sqe("RECV", b, 100, user_data=2),
        Sqe("NOP", user_data=3),
        Sqe("POLL_ADD", b, events=EPOLLIN | EPOLLOUT, user_data=4),
    ]
    assert twin.io_uring_submit(ring, sqes) == 4
    assert twin.io_uring_wait(ring, 4, 0) == [
        Cqe(1, 5),
        Cqe(2, 8),
        Cqe(3, 0),
        Cqe(4, EPOLLOUT),
    ]


def test_per_op_errors_are_negative_errno_in_the_completion(twin: Twin) -> None:
    """IU-5: a bad fd, a file that is no socket, accept on a stream that does not listen."""
    a, _b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    file = twin.open_file()
    sqes = [
        Sqe("RECV", 60, 10, user_data=1),
        Sqe("RECV", file, 10, user_data=2),
        Sqe("SEND", file, 10, user_data=3),
        Sqe("ACCEPT", a, user_data=4),
        Sqe("POLL_ADD", 61, events=EPOLLIN, user_data=5),
        Sqe("CLOSE", 62, user_data=6),
        Sqe("CLOSE", ring, user_data=7),
    ]
    assert twin.io_uring_submit(ring, sqes) == 7
    assert twin.io_uring_wait(ring, 0, 0) == [
        Cqe(1, -errno.EBADF),
        Cqe(2, -errno.ENOTSOCK),
        Cqe(3, -errno.ENOTSOCK),
        Cqe(4, -errno.EINVAL),
        Cqe(5, -errno.EBADF),
        Cqe(6, -errno.EBADF),
        Cqe(7, -errno.EBADF),
    ]


def test_poll_add_completes_with_the_mask_and_poll_remove_cancels_it(twin: Twin) -> None:
    """IU-6: a POLL_ADD is one-shot; POLL_REMOVE's 0 comes first, then the target's
    -ECANCELED; removing nothing is -ENOENT."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", a, events=EPOLLIN, user_data=1)])
    assert twin.io_uring_wait(ring, 0, 0) == []
    twin.send(b, 1)
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(1, EPOLLIN)]
    twin.recv(a, 1)
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", a, events=EPOLLIN, user_data=2)])
    twin.io_uring_submit(ring, [Sqe("POLL_REMOVE", user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, 0), Cqe(2, -errno.ECANCELED)]
    twin.io_uring_submit(ring, [Sqe("POLL_REMOVE", user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, -errno.ENOENT)]


def test_async_cancel_of_a_parked_recv(twin: Twin, family: str) -> None:
    """IU-7: the cancel completes 0 first, the parked RECV -ECANCELED after; nothing to
    cancel is -ENOENT; a cancelled RECV reads nothing later."""
    a, b = pair(twin, family)
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=3)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=3)])
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(3, 0), Cqe(3, -errno.ECANCELED)]
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=99)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(99, -errno.ENOENT)]
    twin.send(b, 4)
    assert twin.io_uring_wait(ring, 0, 0) == []
    assert twin.recv(a, 10) == 4


def test_a_failed_link_cancels_the_rest_of_its_chain(twin: Twin) -> None:
    """IU-8: IOSQE_IO_LINK: a request that fails completes the rest with -ECANCELED."""
    ring = twin.io_uring_setup(8)
    chain = [
        Sqe("RECV", 60, 10, user_data=1, flags=IOSQE_IO_LINK),
        Sqe("NOP", user_data=2, flags=IOSQE_IO_LINK),
        Sqe("NOP", user_data=3),
    ]
    assert twin.io_uring_submit(ring, chain) == 3
    assert twin.io_uring_wait(ring, 3, 0) == [
        Cqe(1, -errno.EBADF),
        Cqe(2, -errno.ECANCELED),
        Cqe(3, -errno.ECANCELED),
    ]


def test_a_link_runs_its_members_one_after_the_other(twin: Twin) -> None:
    """IU-8: the NOP linked behind a parked RECV waits for it; a short read does not fail
    the link."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    chain = [Sqe("RECV", a, 3, user_data=1, flags=IOSQE_IO_LINK), Sqe("NOP", user_data=2)]
    twin.io_uring_submit(ring, chain)
    assert twin.io_uring_wait(ring, 0, 0) == []
    twin.send(b, 5)
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(1, 3, NONEMPTY), Cqe(2, 0)]


def test_timeout_completes_with_ETIME_and_can_be_cancelled(twin: Twin) -> None:
    """IU-9: a pure TIMEOUT completes -ETIME when it expires; ASYNC_CANCEL takes it back."""
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("TIMEOUT", timeout_ms=20, user_data=1)])
    assert twin.io_uring_wait(ring, 1, -1) == [Cqe(1, -errno.ETIME)]
    twin.io_uring_submit(ring, [Sqe("TIMEOUT", timeout_ms=60_000, user_data=2)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=2)])
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(2, 0), Cqe(2, -errno.ECANCELED)]


def test_close_op_closes_the_descriptor(twin: Twin) -> None:
    """IU-10: CLOSE frees the number (the next descriptor takes it)."""
    a, _b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("CLOSE", a, user_data=1)])
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(1, 0)]
    assert twin.open_file() == a


def test_a_parked_recv_holds_its_file_across_close(twin: Twin) -> None:
    """IU-10: a request in flight holds a reference to its file: closing the descriptor
    neither cancels the RECV nor closes the socket."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=1)])
    twin.close(a)
    assert twin.send(b, 3) == 3
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(1, 3)]


def test_accept_inline_and_parked(twin: Twin) -> None:
    """IU-11: ACCEPT installs the lowest free descriptor; with nothing queued it parks and
    the connection completes it."""
    listener = twin.tcp_listen()
    ring = twin.io_uring_setup(4)
    client = twin.tcp_connect(listener)
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=1)])
    [done] = twin.io_uring_wait(ring, 1, 0)
    assert done == Cqe(1, client + 1)
    twin.send(client, 5)
    assert twin.recv(done.res, 10) == 5
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == []
    second = twin.tcp_connect(listener)
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(2, second + 1)]


def test_send_parks_on_a_full_buffer_and_completes_when_read(twin: Twin) -> None:
    """IU-4: a SEND that finds no room parks on the internal poll (OUT)."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    twin.fill(a)
    twin.io_uring_submit(ring, [Sqe("SEND", a, 100, user_data=1)])
    assert twin.io_uring_wait(ring, 0, 0) == []
    twin.recv(b, 300_000)
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(1, 100)]


def test_completions_beyond_the_cq_wait_in_overflow(twin: Twin) -> None:
    """IU-2: the CQ holds twice the SQ; more completions wait on the overflow list and come
    out on a later wait, in order."""
    ring = twin.io_uring_setup(1)  # SQ 1, CQ 2
    for i in range(3):
        assert twin.io_uring_submit(ring, [Sqe("NOP", user_data=i)]) == 1
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(0, 0), Cqe(1, 0)]
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, 0)]


def test_bad_input_is_refused_alike(twin: Twin) -> None:
    """IU-12: unknown ops, negative lengths, flags the model does not implement: ValueError
    before anything is queued; a ring fd that is not a ring: EOPNOTSUPP; not open: EBADF."""
    a, _b = twin.socketpair()
    ring = twin.io_uring_setup(2)
    bad = [
        [Sqe("READV", a)],
        [Sqe("RECV", a, -1)],
        [Sqe("NOP", flags=IOSQE_IO_DRAIN)],
        [Sqe("NOP", flags=IOSQE_ASYNC)],
        [Sqe("NOP", user_data=-1)],
    ]
    for sqes in bad:
        with pytest.raises(ValueError):
            twin.io_uring_submit(ring, sqes)
    with pytest.raises(ValueError, match="standard stream"):
        twin.io_uring_submit(ring, [Sqe("CLOSE", 1)])
    for not_a_ring, code in ((a, errno.EOPNOTSUPP), (40, errno.EBADF)):
        with pytest.raises(OSError) as info:
            twin.io_uring_submit(not_a_ring, [Sqe("NOP")])
        assert info.value.errno == code
        with pytest.raises(OSError) as info:
            twin.io_uring_wait(not_a_ring, 0, 0)
        assert info.value.errno == code
    with pytest.raises(ValueError):
        twin.io_uring_wait(ring, -1, 0)
    with pytest.raises(ValueError):
        twin.io_uring_setup(-1)
    assert twin.io_uring_wait(ring, 0, 0) == []


def test_waiting_for_more_than_can_come(twin: Twin) -> None:
    """IU-13: a wait that nothing can end raises WaitForeverError; with a timeout it returns
    what there is."""
    ring = twin.io_uring_setup(2)
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=1)])
    assert twin.io_uring_wait(ring, 3, 10) == [Cqe(1, 0)]
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=2)])
    waits_forever(twin, lambda k: k.io_uring_wait(ring, 2, -1))


def test_refusal_is_recognised_by_its_errno() -> None:
    """IU-14: where the kernel refuses io_uring (ENOSYS: not built; EPERM: the
    kernel.io_uring_disabled sysctl) the live kernel answers ENOSYS; other errors stand."""
    assert _uring.refused(errno.ENOSYS)
    assert _uring.refused(errno.EPERM)
    assert not _uring.refused(errno.EINVAL)
    assert not _uring.refused(errno.EMFILE)


def test_completion_order_of_links_and_independent_requests(twin: Twin) -> None:
    """IU-8: a link's next member is issued from task work, after the batch's inline
    completions are flushed; a failed link's -ECANCELED also follows the batch."""
    ring = twin.io_uring_setup(8)
    batch = [Sqe("NOP", user_data=1, flags=IOSQE_IO_LINK), Sqe("NOP", user_data=2)]
    twin.io_uring_submit(ring, [*batch, Sqe("NOP", user_data=3)])
    assert twin.io_uring_wait(ring, 3, 0) == [Cqe(1, 0), Cqe(3, 0), Cqe(2, 0)]
    failing = [Sqe("RECV", 60, 1, user_data=1, flags=IOSQE_IO_LINK), Sqe("NOP", user_data=2)]
    twin.io_uring_submit(ring, [*failing, Sqe("NOP", user_data=3)])
    assert twin.io_uring_wait(ring, 3, 0) == [
        Cqe(1, -errno.EBADF),
        Cqe(3, 0),
        Cqe(2, -errno.ECANCELED),
    ]


def test_the_request_parked_last_is_woken_first(twin: Twin) -> None:
    """IU-4: poll entries join the socket's wait queue at the head (``add_wait_queue``), so
    of two RECVs parked on one socket the later one runs first and takes the data."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=1)])
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=2)])
    twin.send(b, 5)
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, 5)]
    cancels = [Sqe("ASYNC_CANCEL", user_data=1), Sqe("ASYNC_CANCEL", user_data=2)]
    twin.io_uring_submit(ring, cancels)
    assert twin.io_uring_wait(ring, 0, 0) == [
        Cqe(1, 0),
        Cqe(2, -errno.ENOENT),
        Cqe(1, -errno.ECANCELED),
    ]


def test_a_woken_poll_reports_its_wake_up_key(twin: Twin) -> None:
    """IU-6: a parked POLL_ADD completes with the key that woke it (``__io_poll_execute``
    stashes it): IN, although the RECV woken before it has already taken the data."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    parked = [Sqe("POLL_ADD", a, events=EPOLLIN, user_data=1), Sqe("RECV", a, 3, user_data=2)]
    twin.io_uring_submit(ring, parked)
    twin.send(b, 2)
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(2, 2), Cqe(1, EPOLLIN)]


def test_poll_add_hears_rdhup_and_err_whatever_it_asked(twin: Twin) -> None:
    """IU-6: a POLL_ADD's mask always includes IO_POLL_UNMASK (ERR, HUP, NVAL, RDHUP)."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    twin.shutdown(b, SHUT_WR)
    polls = [
        Sqe("POLL_ADD", a, events=EPOLLOUT, user_data=1),
        Sqe("POLL_ADD", a, events=EPOLLIN, user_data=2),
    ]
    twin.io_uring_submit(ring, polls)
    assert twin.io_uring_wait(ring, 2, 0) == [
        Cqe(1, EPOLLOUT | EPOLLRDHUP),
        Cqe(2, EPOLLIN | EPOLLRDHUP),
    ]


def test_a_ring_is_pollable_and_epoll_hears_each_completion(twin: Twin) -> None:
    """IU-15: ``io_uring_poll``: OUT while the SQ has room, IN while completions wait to be
    reaped; each posted CQE wakes the ring's poll queue, so even an edge-triggered epoll
    reports every completion."""
    ring = twin.io_uring_setup(2)
    assert twin.poll([(ring, EPOLLIN | EPOLLOUT)], 0) == [(ring, EPOLLOUT)]
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=1)])
    assert twin.poll([(ring, EPOLLIN | EPOLLOUT)], 0) == [(ring, EPOLLIN | EPOLLOUT)]
    twin.io_uring_wait(ring, 0, 0)
    ep = epoll_with(twin, (ring, EPOLLIN | EPOLLET))
    assert twin.epoll_wait(ep, 4, 0) == []
    for user_data in (2, 3):
        twin.io_uring_submit(ring, [Sqe("NOP", user_data=user_data)])
        assert twin.epoll_wait(ep, 4, 0) == [(ring, EPOLLIN)]


def test_a_poll_add_on_the_ring_itself_sees_the_sq_as_the_program_filled_it(twin: Twin) -> None:
    """IU-15: the SQ head moves only once the whole batch is issued (``io_commit_sqring``), so
    a POLL_ADD on the ring's own fd finds a full SQ full: no OUT, it parks -- and the CQE
    posted later (key IN) does not wake a poll for OUT. With room it completes OUT; in a
    batch that fills the SQ it waits for the batch's NOP, whose CQE wakes it with IN."""
    ring = twin.io_uring_setup(1)
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", ring, events=EPOLLOUT, user_data=1)])
    assert twin.poll([(ring, EPOLLIN | EPOLLOUT)], 0) == [(ring, EPOLLOUT)]
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, 0)]
    ring = twin.io_uring_setup(2)
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", ring, events=EPOLLOUT, user_data=3)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(3, EPOLLOUT)]
    both = EPOLLIN | EPOLLOUT
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=4), Sqe("POLL_ADD", ring, events=both)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(4, 0), Cqe(0, EPOLLIN)]


def test_a_dup_of_a_ring_is_the_same_ring(twin: Twin) -> None:
    """IU-1: the ring is an open file description like any other: a dup reaches the same
    rings, and closing one number leaves the other working."""
    ring = twin.io_uring_setup(2)
    other = twin.dup(ring)
    twin.io_uring_submit(other, [Sqe("NOP", user_data=1)])
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(1, 0)]
    twin.close(ring)
    twin.io_uring_submit(other, [Sqe("NOP", user_data=2)])
    assert twin.io_uring_wait(other, 1, 0) == [Cqe(2, 0)]


def test_a_closed_ring_is_EBADF(twin: Twin) -> None:
    """IU-1 (found by the differential fuzzer: the live engine once kept the unmapped rings of
    a closed ring fd, and the next wait crashed its child)."""
    ring = twin.io_uring_setup(1)
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=1)])
    twin.close(ring)
    with pytest.raises(OSError) as info:
        twin.io_uring_wait(ring, 0, 0)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        twin.io_uring_submit(ring, [Sqe("NOP")])
    assert info.value.errno == errno.EBADF


def test_async_cancel_of_a_parked_accept_and_of_a_poll(twin: Twin) -> None:
    """IU-7: any parked request can be cancelled, an ACCEPT's internal poll or a POLL_ADD."""
    ring = twin.io_uring_setup(8)
    listener = twin.tcp_listen()
    a, _b = twin.socketpair()
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=1)])
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", a, events=EPOLLIN, user_data=2)])
    cancels = [Sqe("ASYNC_CANCEL", user_data=1), Sqe("ASYNC_CANCEL", user_data=2)]
    twin.io_uring_submit(ring, cancels)
    assert twin.io_uring_wait(ring, 4, 0) == [
        Cqe(1, 0),
        Cqe(2, 0),
        Cqe(1, -errno.ECANCELED),
        Cqe(2, -errno.ECANCELED),
    ]


def test_a_parked_link_member_that_fails_later_cancels_the_rest(twin: Twin) -> None:
    """IU-8: the RECV parked at the head of a chain fails when the peer resets the
    connection (-ECONNRESET); the NOP behind it is cancelled."""
    client, server = pair(twin, "tcp")
    ring = twin.io_uring_setup(8)
    chain = [Sqe("RECV", server, 10, user_data=1, flags=IOSQE_IO_LINK), Sqe("NOP", user_data=2)]
    twin.io_uring_submit(ring, chain)
    twin.abort(client)
    assert twin.io_uring_wait(ring, 2, 0) == [
        Cqe(1, -errno.ECONNRESET),
        Cqe(2, -errno.ECANCELED),
    ]


def test_a_linked_request_looks_its_descriptor_up_when_it_is_issued(twin: Twin) -> None:
    """IU-8, IU-10: behind a CLOSE in a chain, a RECV on the same number finds it closed
    (-EBADF): the file is looked up at issue, not at submission. A SEND to the closed peer
    is -EPIPE."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    chain = [Sqe("CLOSE", a, user_data=1, flags=IOSQE_IO_LINK), Sqe("RECV", a, 10, user_data=2)]
    twin.io_uring_submit(ring, chain)
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(1, 0), Cqe(2, -errno.EBADF)]
    twin.io_uring_submit(ring, [Sqe("SEND", b, 10, user_data=3)])
    assert twin.io_uring_wait(ring, 1, 0) == [Cqe(3, -errno.EPIPE)]


def test_a_close_linked_behind_a_parked_recv_runs_inside_the_send_that_wakes_it(
    twin: Twin,
) -> None:
    """IU-8, IU-10: the CLOSE behind a parked RECV runs from the task work of the send that
    completes the RECV, before that send returns: the send still answers its count (the
    fuzzer found the live engine answering EBADF, looking at the number just closed), and
    the next descriptor takes the number."""
    a, b = twin.socketpair()
    c, _d = twin.socketpair()
    ring = twin.io_uring_setup(4)
    chain = [Sqe("RECV", a, 10, user_data=1, flags=IOSQE_IO_LINK), Sqe("CLOSE", c, user_data=2)]
    assert twin.io_uring_submit(ring, chain) == 2
    assert twin.send(b, 3) == 3
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, 3), Cqe(2, 0)]
    assert twin.open_file() == c


# --- IU-17: a thread asleep in io_uring_wait ---------------------------------------------------


def test_a_thread_asleep_in_io_uring_wait_is_woken_by_a_send_from_thread_0_IU17(
    twin: Twin, family: str
) -> None:
    """IU-17: a spawned thread sleeps in io_cqring_wait on the ring's cq_wait queue; the send
    that completes the parked RECV posts its CQE, which wakes the thread, which reaps it."""
    a, b = pair(twin, family)
    ring = twin.io_uring_setup(4)
    assert twin.io_uring_submit(ring, [Sqe("RECV", fd=a, nbytes=100, user_data=1)]) == 1
    t = twin.spawn_thread()
    assert twin.start(t, "io_uring_wait", ring, 1, -1) is False
    assert twin.thread_state(t) == ("sleeping", "io_uring_wait")
    assert twin.send(b, 5) == 5
    assert twin.thread_state(t) == ("finished", "io_uring_wait")
    assert twin.join(t) == [Cqe(1, 5)]
    assert twin.io_uring_wait(ring, 0, 0) == []  # the thread reaped it


def test_a_waiter_sleeps_on_until_the_tail_reaches_what_it_wants_IU17(twin: Twin) -> None:
    """IU-17: io_should_wake: a thread waiting for 2 completions stays asleep through the first
    (io_wake_function leaves it asleep: the CQ tail is short of its target), and reaps both
    once the second comes."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    t = twin.spawn_thread()
    assert twin.start(t, "io_uring_wait", ring, 2, -1) is False
    assert twin.io_uring_submit(ring, [Sqe("NOP", user_data=7)]) == 1
    assert twin.thread_state(t) == ("sleeping", "io_uring_wait")
    twin.io_uring_submit(ring, [Sqe("RECV", fd=a, nbytes=10, user_data=8)])
    assert twin.thread_state(t) == ("sleeping", "io_uring_wait")
    twin.send(b, 3)
    assert twin.thread_state(t) == ("finished", "io_uring_wait")
    assert twin.join(t) == [Cqe(7, 0), Cqe(8, 3)]


def test_a_thread_asleep_in_io_uring_wait_takes_what_it_waited_for_with_a_timeout_IU17(
    twin: Twin,
) -> None:
    """IU-17: a finite timeout does not end a wait that a completion ends first."""
    _a, _b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    t = twin.spawn_thread()
    assert twin.start(t, "io_uring_wait", ring, 1, 60_000) is False
    twin.io_uring_submit(ring, [Sqe("NOP", user_data=3)])
    assert twin.thread_state(t) == ("finished", "io_uring_wait")
    assert twin.join(t) == [Cqe(3, 0)]


# --- IU-18: IOSQE_IO_HARDLINK -------------------------------------------------------------------


def test_a_hardlink_goes_on_after_a_failure_a_link_does_not_IU18(twin: Twin) -> None:
    """IU-18: a failed CLOSE linked with IO_LINK cancels the NOP after it; with IO_HARDLINK
    the NOP runs."""
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(
        ring, [Sqe("CLOSE", 40, user_data=1, flags=IOSQE_IO_LINK), Sqe("NOP", user_data=2)]
    )
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(1, -errno.EBADF), Cqe(2, -errno.ECANCELED)]
    twin.io_uring_submit(
        ring, [Sqe("CLOSE", 40, user_data=3, flags=IOSQE_IO_HARDLINK), Sqe("NOP", user_data=4)]
    )
    assert twin.io_uring_wait(ring, 2, 0) == [Cqe(3, -errno.EBADF), Cqe(4, 0)]


def test_a_hardlinked_timeout_runs_the_next_request_when_it_expires_IU18(twin: Twin) -> None:
    """IU-18: a TIMEOUT's -ETIME is a failure; hard-linked, the next request runs after it."""
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(
        ring,
        [
            Sqe("TIMEOUT", timeout_ms=10, user_data=1, flags=IOSQE_IO_HARDLINK),
            Sqe("NOP", user_data=2),
        ],
    )
    assert twin.io_uring_wait(ring, 2, -1) == [Cqe(1, -errno.ETIME), Cqe(2, 0)]


def test_a_soft_link_after_a_hard_one_still_breaks_the_chain_IU18(twin: Twin) -> None:
    """IU-18: each member's own flag decides: the hard-linked failure goes on to the next,
    whose soft-linked failure cancels the rest; the next chain's inline NOP completes first,
    because a chain's next member is issued from task work."""
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(
        ring,
        [
            Sqe("CLOSE", 40, user_data=1, flags=IOSQE_IO_HARDLINK),
            Sqe("CLOSE", 41, user_data=2, flags=IOSQE_IO_LINK),
            Sqe("NOP", user_data=3),
            Sqe("NOP", user_data=4),
        ],
    )
    assert twin.io_uring_wait(ring, 4, 0) == [
        Cqe(1, -errno.EBADF),
        Cqe(4, 0),
        Cqe(2, -errno.EBADF),
        Cqe(3, -errno.ECANCELED),
    ]


def test_a_parked_hardlinked_recv_runs_its_chain_when_it_completes_IU18(twin: Twin) -> None:
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(8)
    twin.io_uring_submit(
        ring,
        [Sqe("RECV", a, 10, user_data=1, flags=IOSQE_IO_HARDLINK), Sqe("NOP", user_data=2)],
    )
    assert twin.io_uring_wait(ring, 0, 0) == []
    twin.send(b, 5)
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, 5), Cqe(2, 0)]


# --- IU-19: a chain cut by the end of its batch runs on an io-wq worker --------------------------


def test_a_close_at_the_end_of_a_cut_chain_has_closed_when_submit_returns_IU19(twin: Twin) -> None:
    """IU-19: a batch that ends inside a chain (its last SQE linked) sends the chain to an
    io-wq worker thread (``io_submit_state_end`` -> ``io_queue_sqe_fallback``), which runs it
    after ``io_uring_enter`` returned. The live engine waits for that worker, so the CLOSE has
    closed its number -- the next descriptor takes it -- and unrelated sockets are untouched
    (the fuzzer found a send on another socket answered EBADF while the close was pending)."""
    a, _b = twin.socketpair()
    c, d = twin.socketpair()
    ring = twin.io_uring_setup(1)
    for flag in (IOSQE_IO_LINK, IOSQE_IO_HARDLINK):
        assert twin.io_uring_submit(ring, [Sqe("CLOSE", a, user_data=flag, flags=flag)]) == 1
        assert twin.send(c, 1) == 1
        assert twin.recv(d, 10) == 1
        assert twin.io_uring_wait(ring, 0, 0) == [Cqe(flag, 0)]
        assert twin.open_file() == a


def test_a_cut_chain_runs_in_order_and_its_recv_waits_for_data_IU19(twin: Twin) -> None:
    """IU-19: the worker runs the cut chain member after member; a RECV with nothing queued
    sleeps in the worker (a blocking recv: io-wq issues without IO_URING_F_NONBLOCK) until
    the send that brings data, whose return finds the CQE posted."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    chain = [
        Sqe("NOP", user_data=1, flags=IOSQE_IO_LINK),
        Sqe("RECV", a, 10, user_data=2, flags=IOSQE_IO_LINK),
    ]
    assert twin.io_uring_submit(ring, chain) == 2
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, 0)]
    assert twin.send(b, 3) == 3
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, 3)]


def test_a_cut_chain_send_sleeps_until_every_byte_is_queued_IU19(twin: Twin) -> None:
    """IU-19: the worker's SEND is a blocking one: on a full socket it queues what room the
    reader makes, sleeps again, and completes with every byte -- where an inline SEND
    (IU-4) completes with what fitted when it woke.

    The reads are bounded where their counts are compared: a recv that frees room wakes the
    worker, which on Linux may queue more on the other CPU while that same recv is still
    copying, so an unbounded read's count is the two CPUs' race (seen under load: the real
    recv took all 300,000 bytes where the model took the 233,152 queued). Past the first
    read, each kernel is drained on its own and only the totals are compared."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    filled = twin.fill(a)
    assert twin.io_uring_submit(ring, [Sqe("SEND", a, 300_000, user_data=1, flags=IOSQE_IO_LINK)])
    assert twin.io_uring_wait(ring, 0, 0) == []
    assert twin.recv(b, filled) == filled
    assert twin.io_uring_wait(ring, 0, 0) == []  # 300,000 does not fit: it sleeps again
    for kernel in (twin.model, twin.live):
        drained = 0
        while drained < 300_000:
            drained += kernel.recv(b, 300_000)
        assert drained == 300_000, kernel
        assert kernel.io_uring_wait(ring, 0, 0) == [Cqe(1, 300_000)], kernel


def test_async_cancel_interrupts_a_cut_chain_recv_in_its_worker_IU19(twin: Twin) -> None:
    """IU-19: ASYNC_CANCEL finds the RECV running in its worker (``io_wq_cancel_cb``): the
    cancel completes -EALREADY, the interrupted RECV -EINTR, and the NOP linked behind it is
    cancelled; the data sent later stays for recv."""
    a, b = twin.socketpair()
    ring = twin.io_uring_setup(4)
    chain = [
        Sqe("RECV", a, 10, user_data=1, flags=IOSQE_IO_LINK),
        Sqe("NOP", user_data=2, flags=IOSQE_IO_LINK),
    ]
    assert twin.io_uring_submit(ring, chain) == 2
    assert twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=1)]) == 1
    assert twin.io_uring_wait(ring, 0, 0) == [
        Cqe(1, -errno.EALREADY),
        Cqe(1, -errno.EINTR),
        Cqe(2, -errno.ECANCELED),
    ]
    assert twin.send(b, 3) == 3
    assert twin.io_uring_wait(ring, 0, 0) == []
    assert twin.recv(a, 10) == 3


def test_a_cut_chain_accept_on_a_non_blocking_listener_is_EAGAIN_IU19(twin: Twin) -> None:
    """IU-19: the worker's accept honours the listener's O_NONBLOCK (``do_accept``): with
    nothing queued it fails -EAGAIN at once instead of waiting; with a connection queued it
    installs the lowest free descriptor, and a cancel then finds nothing (-ENOENT)."""
    listener = twin.tcp_listen()
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=1, flags=IOSQE_IO_LINK)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, -errno.EAGAIN)]
    client = twin.tcp_connect(listener)
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=2, flags=IOSQE_IO_LINK)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, client + 1), Cqe(2, -errno.ENOENT)]


def test_a_cut_chain_accept_on_a_blocking_listener_sleeps_holding_its_number_IU19(
    twin: Twin,
) -> None:
    """IU-19: on a blocking listener the worker's accept sleeps, holding the descriptor number
    it reserved first (``io_accept``): the client made meanwhile gets the next number, the
    connection the reserved one. A cancel interrupts the next one (-EALREADY, -EINTR) and
    gives its number back; at the limit the reservation itself fails (-EMFILE)."""
    listener = twin.tcp_listen()
    ring = twin.io_uring_setup(4)
    twin.set_blocking(listener, True)
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=1, flags=IOSQE_IO_LINK)])
    assert twin.io_uring_wait(ring, 0, 0) == []
    held = ring + 1
    assert twin.tcp_connect(listener) == held + 1
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(1, held)]
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=2, flags=IOSQE_IO_LINK)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=2)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(2, -errno.EALREADY), Cqe(2, -errno.EINTR)]
    assert twin.open_file() == held + 2
    twin.setrlimit_nofile(held + 3)
    twin.io_uring_submit(ring, [Sqe("ACCEPT", listener, user_data=3, flags=IOSQE_IO_LINK)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(3, -errno.EMFILE)]


def test_async_cancel_run_by_a_worker_finds_itself_running_IU19(twin: Twin) -> None:
    """IU-19: ``io_try_cancel`` asks io-wq first. A cancel that a worker runs (the end of a cut
    chain) finds itself running -- it carries the user_data it looks for -- and answers
    -EALREADY. Its CQE is posted by the worker, so no other CQE may race it here."""
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=0, flags=IOSQE_IO_HARDLINK)])
    assert twin.io_uring_wait(ring, 0, 0) == [Cqe(0, -errno.EALREADY)]


def same_completions(twin: Twin, ring: int) -> list[Cqe]:
    """Reap `ring` on each kernel and compare the CQEs as a sorted list: for when a worker
    posts one CQE and the submitting task's task work another, whose order Linux leaves to
    the scheduler (IU-19). The sorted CQEs."""
    model = sorted(twin.model.io_uring_wait(ring, 0, 0), key=repr)
    live = sorted(twin.live.io_uring_wait(ring, 0, 0), key=repr)
    assert model == live, f"model {model}, real {live}"
    return live


def test_async_cancel_falls_through_to_polls_after_EALREADY_IU19(twin: Twin) -> None:
    """IU-19: -EALREADY falls through to the polls, then the timeouts (``io_try_cancel``):
    run by a worker, the cancel still finds a parked POLL_ADD (0, and its -ECANCELED) or
    interrupts a RECV asleep in another worker (-EALREADY, -EINTR); issued inline beside a
    worker's RECV and a parked POLL_ADD of the same user_data, it does both (0, -EINTR,
    -ECANCELED). The worker posts its CQE, the submitting task the others: the order of
    each pair is the scheduler's, so only the sets are compared."""
    a, b = twin.socketpair()
    c, _d = twin.socketpair()
    ring = twin.io_uring_setup(4)
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", a, events=EPOLLIN, user_data=1)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=1, flags=IOSQE_IO_LINK)])
    assert same_completions(twin, ring) == [Cqe(1, -errno.ECANCELED), Cqe(1, 0)]
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=2, flags=IOSQE_IO_LINK)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=2, flags=IOSQE_IO_LINK)])
    assert same_completions(twin, ring) == [Cqe(2, -errno.EALREADY), Cqe(2, -errno.EINTR)]
    twin.io_uring_submit(ring, [Sqe("RECV", a, 10, user_data=3, flags=IOSQE_IO_LINK)])
    twin.io_uring_submit(ring, [Sqe("POLL_ADD", c, events=EPOLLIN, user_data=3)])
    twin.io_uring_submit(ring, [Sqe("ASYNC_CANCEL", user_data=3)])
    assert same_completions(twin, ring) == [
        Cqe(3, -errno.ECANCELED),
        Cqe(3, -errno.EINTR),
        Cqe(3, 0),
    ]
    assert twin.send(b, 3) == 3
    assert twin.io_uring_wait(ring, 0, 0) == []
