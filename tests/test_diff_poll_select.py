"""Differential tests of poll(2) and select(2) with CPython's layer: docs/kernel-spec.md part B.

Every call goes through `Twin`, so each line is checked on both kernels; the asserted values
document what Linux 6.18 and CPython 3.11 do. Each test names the behaviour and cites its
spec number. Socket readiness as poll/select report it (SK-3) is in `test_diff_readiness.py`,
poll/select on an epoll fd (EP-12) in `test_diff_epoll_nesting.py`.

Not covered -- it needs a second thread: PS-5 (an fd closed by another thread while a
poll/select sleeps on it: NVAL / every requested set at the next rescan), and the sleeping
half of PS-1 (a wake-up ending a blocked poll/select). Timer slack and EINTR retries are not
observable through the protocol either.
"""

from __future__ import annotations

import errno
import math

import pytest

from simulator.uapi import (
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDNORM,
    POLLWRNORM,
)
from tests.diffkit import pair, waits_forever
from tests.twin import Twin

IN, OUT, ERR, HUP, NVAL = POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL
DEFAULT = POLLIN | POLLPRI | POLLOUT  # select.poll.register's default mask


def _grow_fd_table_past(twin: Twin, fd: int) -> list[int]:
    """Open descriptors (dups of a socket) until `fd` is open; returns them."""
    a, _b = twin.socketpair()
    opened = [a, _b]
    while opened[-1] < fd:
        opened.append(twin.dup(a))
    return opened


# --- poll(2): the per-entry rule ------------------------------------------------------------------


def test_poll_nval_for_unopened_fd_PS2(twin: Twin) -> None:
    a, _b = twin.socketpair()
    twin.close(a)
    assert twin.poll([(1000, IN)], 0) == [(1000, NVAL)]
    assert twin.poll([(a, IN)], 0) == [(a, NVAL)]
    assert twin.poll([(a, 0), (999, 0)], 0) == [(a, NVAL), (999, NVAL)]  # even with events=0
    assert twin.poll([(a, IN)], 5) == [(a, NVAL)]  # counts as ready: no wait


def test_poll_reports_err_and_hup_even_when_not_requested_PS2(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, s = pair(twin, "tcp")
    assert twin.poll([(a, 0), (c, 0)], 0) == []
    twin.close(b)
    twin.abort(s)
    assert twin.poll([(a, 0), (c, 0)], 0) == [(a, HUP), (c, ERR | HUP)]
    assert twin.poll([(a, OUT), (c, IN)], 0) == [(a, OUT | HUP), (c, IN | ERR | HUP)]


def test_poll_regular_file_is_always_ready_PS2_SK6(twin: Twin) -> None:
    f = twin.open_file()
    assert twin.poll([(f, DEFAULT)], 0) == [(f, IN | OUT)]
    everything = IN | OUT | POLLRDNORM | POLLWRNORM | POLLPRI
    assert twin.poll([(f, everything)], 0) == [(f, IN | OUT | POLLRDNORM | POLLWRNORM)]
    assert twin.poll([(f, 0)], 0) == []


def test_poll_more_entries_than_rlimit_nofile_is_EINVAL_PS2(twin: Twin) -> None:
    twin.setrlimit_nofile(8)
    assert len(twin.poll([(100 + i, IN) for i in range(8)], 0)) == 8
    with pytest.raises(OSError) as info:
        twin.poll([(100 + i, IN) for i in range(9)], 0)
    assert info.value.errno == errno.EINVAL
    # CPython keeps one entry per fd: nine registrations of eight fds are eight entries.
    assert len(twin.poll([(100 + i % 8, IN) for i in range(9)], 0)) == 8


def test_poll_returns_only_ready_entries_PS2(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    c, d = pair(twin, family)
    assert twin.poll([(a, IN), (c, IN), (b, IN)], 0) == []
    twin.send(d, 1)
    assert twin.poll([(a, IN), (c, IN), (b, IN)], 0) == [(c, IN)]
    assert twin.poll([(a, IN | OUT), (c, IN)], 0) == [(a, OUT), (c, IN)]


# --- CPython's select.poll ------------------------------------------------------------------------


def test_poll_register_order_and_overwrite_PS7(twin: Twin) -> None:
    pairs = [twin.socketpair() for _ in range(4)]
    fds = [pairs[i][0] for i in (3, 1, 0, 2)]
    assert twin.poll([(fd, OUT) for fd in fds], 0) == [(fd, OUT) for fd in fds]
    a, c = fds[0], fds[1]
    # Registering again overwrites the mask and keeps the first position (a dict).
    assert twin.poll([(a, IN), (c, OUT), (a, OUT)], 0) == [(a, OUT), (c, OUT)]
    assert twin.poll([(a, OUT), (c, OUT), (a, IN)], 0) == [(c, OUT)]


def test_poll_dup_fds_are_separate_entries_PS7(twin: Twin) -> None:
    a, b = twin.socketpair()
    d = twin.dup(a)
    twin.send(b, 1)
    assert twin.poll([(d, IN), (a, IN | OUT)], 0) == [(d, IN), (a, IN | OUT)]


def test_poll_eventmask_and_fd_checks_PS7(twin: Twin) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(ValueError):
        twin.poll([(a, -1)], 0)
    with pytest.raises(OverflowError):
        twin.poll([(a, 0x10000)], 0)
    with pytest.raises(ValueError):
        twin.poll([(-1, IN)], 0)
    with pytest.raises(ValueError):  # the bad entry is found before the timeout is read
        twin.poll([(a, -1)], "soon")
    assert twin.poll([(a, 0xFFFF)], 0) == [(a, OUT | POLLWRNORM | 0x200)]


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        ("soon", TypeError),
        (math.nan, ValueError),
        (math.inf, OverflowError),
        (2**31, OverflowError),
        (2**31 - 0.5, OverflowError),  # rounded up to 2**31 ms
        (10**30, OverflowError),
    ],
)
def test_poll_timeout_argument_checks_PS7(twin: Twin, timeout: object, error: type) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(error):
        twin.poll([(a, OUT)], timeout)


def test_poll_timeout_below_int_min_is_OverflowError_PS7(twin: Twin) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(OverflowError):
        twin.poll([(a, OUT)], -(2**31) - 1)


def test_poll_timeouts_PS1_PS7(twin: Twin) -> None:
    a, _b = twin.socketpair()
    assert twin.poll([(a, IN)], 0) == []
    assert twin.poll([(a, IN)], 5) == []
    assert twin.poll([(a, IN)], 0.1) == []  # rounded up to 1 ms
    assert twin.poll([(a, IN)], 1.5) == []
    assert twin.poll([], 2) == []
    assert twin.poll([(a, OUT)], None) == [(a, OUT)]  # infinite, but ready at once
    assert twin.poll([(a, OUT)], -1) == [(a, OUT)]
    assert twin.poll([(a, OUT)], -(2**31)) == [(a, OUT)]


def test_poll_infinite_with_nothing_that_can_wake_PS1(twin: Twin) -> None:
    a, _b = twin.socketpair()
    waits_forever(twin, lambda k: k.poll([(a, IN)], -1))


# --- select(2): the mapping -----------------------------------------------------------------------


def test_select_mapping_err_is_readable_and_writable_never_exceptional_PS3(twin: Twin) -> None:
    c, s = pair(twin, "tcp")
    twin.close(s)
    assert twin.send(c, 5) == 5  # reaches the closed socket: reset
    assert twin.select([c], [c], [c], 0) == ([c], [c], [])


def test_select_mapping_hup_and_data_PS3(twin: Twin) -> None:
    a, b = twin.socketpair()
    assert twin.select([a], [a], [a], 0) == ([], [a], [])
    twin.send(b, 1)
    assert twin.select([a], [a], [a], 0) == ([a], [a], [])
    twin.recv(a, 1)
    twin.close(b)  # HUP (and OUT): readable and writable
    assert twin.select([a], [a], [a], 0) == ([a], [a], [])
    assert twin.select([a], [], [], 0) == ([a], [], [])


def test_select_mapping_listener_and_regular_file_PS3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    f = twin.open_file()
    assert twin.select([listener], [listener], [listener], 0) == ([], [], [])
    twin.tcp_connect(listener)
    assert twin.select([listener], [listener], [listener], 0) == ([listener], [], [])
    assert twin.select([f], [f], [f], 0) == ([f], [f], [])


def test_select_results_keep_input_order_and_duplicates_PS6(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, _d = twin.socketpair()
    twin.send(b, 1)
    assert twin.select([c, a, c, a], [a, c, a], [], 0) == ([a, a], [a, c, a], [])
    assert twin.select([], [], [], 0) == ([], [], [])


# --- select(2): the fd range ----------------------------------------------------------------------


def test_select_clips_at_fd_table_capacity_PS4(twin: Twin) -> None:
    a, _b = twin.socketpair()
    # Beyond the table's 64 slots nothing is examined or cleared: reported as ready.
    assert twin.select([1000], [1000], [1000], 0) == ([1000], [1000], [1000])
    assert twin.select([a, 1023], [], [], 0) == ([1023], [], [])
    with pytest.raises(OSError) as info:
        twin.select([63], [], [], 0)  # within the table and not open
    assert info.value.errno == errno.EBADF
    twin.close(a)
    with pytest.raises(OSError) as info:
        twin.select([], [1000], [a], 0)  # the closed fd below capacity wins
    assert info.value.errno == errno.EBADF


def test_select_capacity_follows_the_highest_fd_ever_opened_PS4(twin: Twin) -> None:
    assert twin.select([100], [], [], 0) == ([100], [], [])
    opened = _grow_fd_table_past(twin, 64)  # the table grows to 128 slots
    for fd in (100, 127):
        with pytest.raises(OSError) as info:
            twin.select([fd], [], [], 0)
        assert info.value.errno == errno.EBADF
    assert twin.select([128], [], [], 0) == ([128], [], [])
    for fd in opened[2:]:
        twin.close(fd)
    with pytest.raises(OSError) as info:  # tables never shrink
        twin.select([100], [], [], 0)
    assert info.value.errno == errno.EBADF


# --- CPython's select.select ----------------------------------------------------------------------


def test_select_fd_setsize_ValueError_PS6(twin: Twin) -> None:
    a, _b = twin.socketpair()
    for rlist in ([1024], [a, 5000], [-1], [a, -7]):
        with pytest.raises(ValueError):
            twin.select(rlist, [], [], 0)
    with pytest.raises(ValueError):
        twin.select([], [], [1024], 0)
    with pytest.raises(ValueError):
        twin.select([a] * 1025, [], [], 0)  # too many entries, even for one fd
    assert twin.select([a] * 1024, [], [], 0) == ([], [], [])
    assert twin.select([1023], [], [], 0) == ([1023], [], [])


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (-1, ValueError),
        (-0.5, ValueError),
        (-1e-9, ValueError),  # any negative value, however small
        ("soon", TypeError),
        (math.nan, ValueError),
        (math.inf, OverflowError),
        (1e300, OverflowError),
        (10**30, OverflowError),
    ],
)
def test_select_timeout_argument_checks_PS6(twin: Twin, timeout: object, error: type) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(error):
        twin.select([a], [a], [], timeout)


def test_select_timeouts_PS1_PS6(twin: Twin) -> None:
    a, _b = twin.socketpair()
    assert twin.select([a], [], [], 0) == ([], [], [])
    assert twin.select([a], [], [], -0.0) == ([], [], [])
    assert twin.select([a], [], [], 0.005) == ([], [], [])
    assert twin.select([a], [], [], 1e-7) == ([], [], [])  # rounded up to 1 us
    assert twin.select([], [], [], 0.002) == ([], [], [])
    assert twin.select([a], [a], [], None) == ([], [a], [])  # infinite, but ready at once


def test_select_infinite_with_nothing_that_can_wake_PS1(twin: Twin) -> None:
    a, _b = twin.socketpair()
    waits_forever(twin, lambda k: k.select([a], [], [a], None))
