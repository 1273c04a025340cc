"""Differential tests of epoll: the model against the real kernel, docs/kernel-spec.md part A.

Every call goes through `Twin`, so each line is checked on both kernels; the asserted values
document what Linux 6.18 does. Each test names the behaviour and cites its spec number.
Nesting (epoll watching epoll, EP-12/EP-22) is in `test_diff_epoll_nesting.py`, socket
readiness (SK-3/SK-4) in `test_diff_readiness.py`.

The behaviours that need a second thread asleep in a call -- EP-10's wake order, EP-11
(several threads in epoll_wait on one epoll), EP-16's wake side with blocked waiters, EP-21's
blocked caller -- are in `test_diff_threads.py`. Not covered: EP-10's timer slack and signals
(EINTR).

Not observable here: EP-24 ENOSPC (``max_user_watches`` is a global sysctl), EP-26
epoll_create's own errors (the protocol always calls ``epoll_create1(EPOLL_CLOEXEC)``).
"""

from __future__ import annotations

import errno

import pytest

from simulator.uapi import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLMSG,
    EPOLLNVAL,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWAKEUP,
    EPOLLWRBAND,
    EPOLLWRNORM,
    SHUT_WR,
)
from tests.diffkit import epoll_with, interest_list, pair, waits_forever
from tests.twin import Twin

ADD, DEL, MOD = EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD
IN, OUT, ET, ONESHOT = EPOLLIN, EPOLLOUT, EPOLLET, EPOLLONESHOT
ERR, HUP, RDHUP = EPOLLERR, EPOLLHUP, EPOLLRDHUP
#: EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event).
EP_MAX_EVENTS = 0x7FFFFFFF // 12


def _readable_pairs(twin: Twin, n: int) -> list[tuple[int, int]]:
    return [twin.socketpair() for _ in range(n)]


def _errno(info: pytest.ExceptionInfo[OSError]) -> int | None:
    return info.value.errno


# --- level and edge triggering --------------------------------------------------------------------


def test_lt_reports_until_drained_EP13(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN))
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]  # selftest epoll1
    assert twin.recv(a, 10) == 1
    assert twin.epoll_wait(ep, 8, 0) == []


def test_et_reports_once_per_wakeup_EP14(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN | ET))
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []  # selftest epoll2
    twin.send(b, 1)  # more data while old data is still buffered: a new edge
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.send(b, 1)
    twin.send(b, 1)  # two wake-ups before one wait collapse into one event
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []


def test_lt_and_et_items_on_two_sockets_selftests_epoll3_epoll4_EP13_EP14(
    twin: Twin, family: str
) -> None:
    a, b = pair(twin, family)
    c, d = pair(twin, family)
    lt = epoll_with(twin, (a, IN), (c, IN))
    et = epoll_with(twin, (a, IN | ET), (c, IN | ET))
    twin.send(b, 1)
    twin.send(d, 1)
    assert twin.epoll_wait(lt, 2, 0) == [(a, IN), (c, IN)]
    assert twin.epoll_wait(lt, 2, 0) == [(a, IN), (c, IN)]
    assert twin.epoll_wait(et, 2, 0) == [(a, IN), (c, IN)]
    assert twin.epoll_wait(et, 2, 0) == []


# --- the ready list: order of results -------------------------------------------------------------


def test_already_ready_items_are_reported_in_add_order_EP6(twin: Twin) -> None:
    pairs = _readable_pairs(twin, 3)
    for _, b in pairs:
        twin.send(b, 1)
    order = [pairs[1][0], pairs[2][0], pairs[0][0]]
    ep = epoll_with(twin, *((a, IN) for a in order))
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN) for a in order]


def test_results_follow_order_of_readiness_not_fd_order_EP9(twin: Twin, family: str) -> None:
    pairs = [pair(twin, family) for _ in range(4)]
    ep = epoll_with(twin, *((a, IN) for a, _ in pairs))
    for i in (2, 0, 3, 1):
        twin.send(pairs[i][1], 1)
    expected = [(pairs[i][0], IN) for i in (2, 0, 3, 1)]
    assert twin.epoll_wait(ep, 8, 0) == expected
    assert twin.epoll_wait(ep, 8, 0) == expected  # LT re-queues in delivery order


def test_lt_round_robin_under_small_maxevents_EP9(twin: Twin) -> None:
    pairs = _readable_pairs(twin, 4)
    ep = epoll_with(twin, *((a, IN) for a, _ in pairs))
    for _, b in pairs:
        twin.send(b, 1)
    A, B, C, D = ((a, IN) for a, _ in pairs)
    assert [twin.epoll_wait(ep, 1, 0) for _ in range(6)] == [[A], [B], [C], [D], [A], [B]]
    twin.epoll_wait(ep, 2, 0)  # [C, D]: back to A at the head
    assert twin.epoll_wait(ep, 3, 0) == [A, B, C]
    assert twin.epoll_wait(ep, 3, 0) == [D, A, B]
    assert twin.epoll_wait(ep, 3, 0) == [C, D, A]


def test_queued_item_keeps_its_place_and_redelivered_et_item_goes_to_the_tail_EP9(
    twin: Twin,
) -> None:
    (a, pa), (b, pb), (c, pc) = _readable_pairs(twin, 3)
    ep = epoll_with(twin, (a, IN | ET), (b, IN | ET), (c, IN | ET))
    twin.send(pa, 1)
    twin.send(pb, 1)
    twin.send(pa, 1)  # already queued: keeps its position
    twin.send(pc, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN), (b, IN), (c, IN)]
    twin.send(pc, 1)
    twin.send(pa, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(c, IN), (a, IN)]


def test_unprocessed_remainder_stays_ahead_of_lt_requeues_EP9(twin: Twin) -> None:
    (a, pa), (b, pb), (c, pc) = _readable_pairs(twin, 3)
    ep = epoll_with(twin, (a, IN), (b, IN | ET), (c, IN))
    for p in (pa, pb, pc):
        twin.send(p, 1)
    assert twin.epoll_wait(ep, 1, 0) == [(a, IN)]  # a re-queued behind b and c
    assert twin.epoll_wait(ep, 1, 0) == [(b, IN)]  # ET: gone after delivery
    assert twin.epoll_wait(ep, 8, 0) == [(c, IN), (a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == [(c, IN), (a, IN)]


def test_lt_item_drained_before_the_wait_is_dropped_silently_EP9(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    c, d = pair(twin, family)
    ep = epoll_with(twin, (a, IN), (c, IN))
    twin.send(b, 3)
    twin.send(d, 3)
    assert twin.recv(a, 10) == 3  # queued, but no longer ready at transfer time
    assert twin.epoll_wait(ep, 8, 0) == [(c, IN)]
    assert twin.recv(c, 10) == 3
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)  # it comes back only through a new wake-up
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]


def test_in_out_et_rereports_out_with_every_data_arrival_EP9(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN | OUT | ET))
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT)]  # writable when added
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN | OUT)]  # re-polled as a whole
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN | OUT)]


def test_reported_mask_is_the_level_at_transfer_time_EP9(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN | RDHUP | ET))
    twin.send(b, 2)
    twin.shutdown(b, SHUT_WR)  # a second wake-up before the wait: one event, current bits
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN | RDHUP)]


def test_epoll_wait_with_maxevents_minus_one_returns_at_most_1023_EP27(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.setrlimit_nofile(1100)
    ep = twin.epoll_create()
    fds = [a] + [twin.dup(a) for _ in range(1029)]
    for fd in fds:
        twin.epoll_ctl(ep, ADD, fd, IN)
    twin.send(b, 1)  # one wake-up walks the socket's queue newest entry first
    woken = [(fd, IN) for fd in reversed(fds)]
    assert twin.epoll_wait(ep, -1, 0) == woken[:1023]
    assert twin.epoll_wait(ep, 1100, 0) == woken[1023:] + woken[:1023]


# --- EPOLL_CTL_MOD and EPOLL_CTL_DEL --------------------------------------------------------------


def test_mod_rereads_readiness_EP7(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN | ET))
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, MOD, a, IN | ET)  # "Modify will reread available I/O"
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []


def test_mod_keeps_a_queued_item_in_place_EP7(twin: Twin) -> None:
    (a, pa), (b, pb), (c, pc) = _readable_pairs(twin, 3)
    ep = epoll_with(twin, (a, IN), (b, IN), (c, IN))
    for p in (pa, pb, pc):
        twin.send(p, 1)
    twin.epoll_ctl(ep, MOD, a, IN | OUT)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN | OUT), (b, IN), (c, IN)]


def test_mod_to_an_unready_mask_drops_the_item_at_transfer_EP7_EP9(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    twin.send(b, 1)
    twin.epoll_ctl(ep, MOD, a, 0)  # still queued, but ERR|HUP only: nothing to report
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, MOD, a, OUT)  # appended again, as OUT is ready
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT)]


def test_mod_of_a_not_ready_item_does_not_queue_it_EP7(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, d = twin.socketpair()
    ep = epoll_with(twin, (a, IN), (c, IN))
    twin.epoll_ctl(ep, MOD, a, IN | ET)
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(d, 1)
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(c, IN), (a, IN)]


def test_del_discards_a_pending_event_and_readd_polls_again_EP8(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    twin.send(b, 1)
    twin.epoll_ctl(ep, DEL, a)
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)  # no longer watched: no callback
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, ADD, a, IN | ET)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.epoll_ctl(ep, DEL, a)
    with pytest.raises(FileNotFoundError):
        twin.epoll_ctl(ep, DEL, a)


# --- flags ----------------------------------------------------------------------------------------


def test_oneshot_reports_once_until_rearmed_by_mod_EP15(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, IN | ONESHOT))
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.send(b, 1)  # disarmed: the callback ignores the item
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, MOD, a, IN | ONESHOT)  # re-armed and re-polled: reported at once
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(ep, 8, 0) == []
    with pytest.raises(FileExistsError):
        twin.epoll_ctl(ep, ADD, a, IN)  # a disarmed item is still registered
    assert interest_list(twin, ep) == [(a, ONESHOT, a)]  # only private bits are left


def test_oneshot_disarms_hup_too_EP15(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN | ONESHOT))
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.close(b)  # HUP, with an unread byte: IN|HUP
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, MOD, a, 0)  # an ERR|HUP-only level-triggered item
    assert interest_list(twin, ep) == [(a, ERR | HUP, a)]
    assert twin.epoll_wait(ep, 8, 0) == [(a, HUP)]
    assert twin.epoll_wait(ep, 8, 0) == [(a, HUP)]


def test_oneshot_disarms_err_too_EP15(twin: Twin) -> None:
    c, s = pair(twin, "tcp")
    ep = epoll_with(twin, (c, OUT | ONESHOT))
    assert twin.epoll_wait(ep, 8, 0) == [(c, OUT)]
    twin.abort(s)  # reset: ERR|HUP on c, but the item is disarmed
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.epoll_ctl(ep, MOD, c, OUT | ONESHOT)
    assert twin.epoll_wait(ep, 8, 0) == [(c, OUT | ERR | HUP)]
    assert twin.epoll_wait(ep, 8, 0) == []


def test_err_and_hup_are_always_monitored_EP18(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, s = pair(twin, "tcp")
    ep = epoll_with(twin, (a, 0), (c, 0))
    assert interest_list(twin, ep) == sorted([(a, ERR | HUP, a), (c, ERR | HUP, c)])
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.close(b)
    twin.abort(s)
    assert twin.epoll_wait(ep, 8, 0) == [(a, HUP), (c, ERR | HUP)]


def test_rdhup_is_reported_only_if_requested_EP17(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    plain = epoll_with(twin, (a, IN))
    rdhup_only = epoll_with(twin, (a, RDHUP | ET))
    twin.shutdown(b, SHUT_WR)
    assert twin.epoll_wait(plain, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(rdhup_only, 8, 0) == [(a, RDHUP)]
    assert twin.epoll_wait(rdhup_only, 8, 0) == []


def test_unknown_event_bits_are_stored_verbatim_EP19(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, d = twin.socketpair()
    unknown = 1 << 20
    ep = epoll_with(twin, (a, IN | unknown), (c, unknown | EPOLLNVAL | EPOLLMSG))
    assert interest_list(twin, ep) == [
        (a, IN | unknown | ERR | HUP, a),
        (c, unknown | EPOLLNVAL | EPOLLMSG | ERR | HUP, c),
    ]
    twin.send(b, 1)
    twin.send(d, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]  # no socket ever reports those bits
    twin.epoll_ctl(ep, MOD, a, (1 << 32) | OUT)  # CPython keeps the low 32 bits
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT)]
    twin.close(d)
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT), (c, HUP)]


def test_epollwakeup_is_silently_stripped_EP23(twin: Twin) -> None:
    a, _b = twin.socketpair()
    ep = epoll_with(twin, (a, IN | EPOLLWAKEUP))
    assert interest_list(twin, ep) == [(a, IN | ERR | HUP, a)]
    twin.epoll_ctl(ep, MOD, a, OUT | EPOLLWAKEUP | ET)
    assert interest_list(twin, ep) == [(a, OUT | ERR | HUP | ET, a)]


# --- EPOLLEXCLUSIVE -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra", [EPOLLRDHUP, EPOLLONESHOT, EPOLLPRI, EPOLLRDNORM, EPOLLWRNORM, EPOLLWRBAND, 1 << 20]
)
def test_exclusive_with_a_bit_outside_the_allowed_set_is_EINVAL_EP16(
    twin: Twin, extra: int
) -> None:
    a, _b = twin.socketpair()
    ep = twin.epoll_create()
    with pytest.raises(OSError) as info:
        twin.epoll_ctl(ep, ADD, a, IN | EPOLLEXCLUSIVE | extra)
    assert _errno(info) == errno.EINVAL
    allowed = IN | OUT | ERR | HUP | EPOLLWAKEUP | ET | EPOLLEXCLUSIVE
    twin.epoll_ctl(ep, ADD, a, allowed)
    assert interest_list(twin, ep) == [(a, allowed & ~EPOLLWAKEUP, a)]


def test_exclusive_rejected_with_mod_EP16(twin: Twin) -> None:
    a, _b = twin.socketpair()
    c, _d = twin.socketpair()
    ep = epoll_with(twin, (a, IN | EPOLLEXCLUSIVE), (c, IN))
    for fd in (a, c):  # MOD with EXCLUSIVE: always EINVAL
        with pytest.raises(OSError) as info:
            twin.epoll_ctl(ep, MOD, fd, IN | EPOLLEXCLUSIVE)
        assert _errno(info) == errno.EINVAL
    with pytest.raises(OSError) as info:  # MOD of an exclusive item, even without the flag
        twin.epoll_ctl(ep, MOD, a, OUT)
    assert _errno(info) == errno.EINVAL
    twin.epoll_ctl(ep, DEL, a)  # DEL is fine
    twin.epoll_ctl(ep, ADD, a, OUT | EPOLLEXCLUSIVE)


def test_exclusive_items_without_blocked_waiters_all_get_the_event_EP16(twin: Twin) -> None:
    a, b = twin.socketpair()
    plain = epoll_with(twin, (a, IN))
    exclusive = [epoll_with(twin, (a, IN | EPOLLEXCLUSIVE)) for _ in range(3)]
    twin.send(b, 1)
    for ep in (plain, *exclusive):
        assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.recv(a, 1)
    et = epoll_with(twin, (a, IN | EPOLLEXCLUSIVE | ET))
    twin.send(b, 1)
    assert twin.epoll_wait(et, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(et, 8, 0) == []


def test_exclusive_item_sees_hup_EP16_EP18(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN | EPOLLEXCLUSIVE))
    twin.close(b)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN | HUP)]


# --- wake-up keys ---------------------------------------------------------------------------------


def test_keyless_state_change_wakes_an_et_out_only_item_EP5(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    ep = epoll_with(twin, (a, OUT | ET))
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT)]
    twin.send(b, 5)  # data-arrival key (IN-ish) does not match OUT|ERR|HUP
    assert twin.epoll_wait(ep, 8, 0) == []
    twin.shutdown(b, SHUT_WR)  # keyless wake: re-polled, current OUT reported
    assert twin.epoll_wait(ep, 8, 0) == [(a, OUT)]
    assert twin.epoll_wait(ep, 8, 0) == []


def test_write_space_key_does_not_wake_an_in_only_item_EP4_EP5(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN | ET))
    twin.send(a, 100)
    twin.recv(b, 100)  # a gets write space: key OUT|WRNORM|WRBAND
    assert twin.epoll_wait(ep, 8, 0) == []


# --- fan-in and fan-out ---------------------------------------------------------------------------


def test_one_socket_in_several_epolls_each_reports_independently_EP3(
    twin: Twin, family: str
) -> None:
    a, b = pair(twin, family)
    lt = epoll_with(twin, (a, IN))
    et = epoll_with(twin, (a, IN | ET))
    oneshot = epoll_with(twin, (a, IN | RDHUP | ONESHOT))
    twin.send(b, 1)
    assert twin.epoll_wait(et, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(lt, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(oneshot, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(et, 8, 0) == []
    assert twin.epoll_wait(lt, 8, 0) == [(a, IN)]
    twin.shutdown(b, SHUT_WR)
    assert twin.epoll_wait(et, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(lt, 8, 0) == [(a, IN)]
    assert twin.epoll_wait(oneshot, 8, 0) == []
    twin.epoll_ctl(lt, DEL, a)  # removing it from one epoll leaves the others alone
    twin.epoll_ctl(oneshot, MOD, a, IN | RDHUP)
    assert twin.epoll_wait(oneshot, 8, 0) == [(a, IN | RDHUP)]
    assert twin.epoll_wait(lt, 8, 0) == []


def test_several_sockets_in_one_epoll_fan_in_EP9(twin: Twin, family: str) -> None:
    pairs = [pair(twin, family) for _ in range(3)]
    ep = epoll_with(twin, *((a, IN | ET) for a, _ in pairs))
    twin.send(pairs[1][1], 1)
    assert twin.epoll_wait(ep, 8, 0) == [(pairs[1][0], IN)]
    twin.send(pairs[2][1], 1)
    twin.send(pairs[0][1], 1)
    twin.send(pairs[1][1], 1)
    assert twin.epoll_wait(ep, 8, 0) == [(pairs[i][0], IN) for i in (2, 0, 1)]


# --- keys, dup and close --------------------------------------------------------------------------


def test_a_dup_is_a_distinct_key_of_the_same_file_EP2(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    d = twin.dup(a)
    twin.epoll_ctl(ep, ADD, d, IN | ET)
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(d, IN), (a, IN)]  # newest entry is woken first
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.epoll_ctl(ep, DEL, a)
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(d, IN)]


def test_close_with_a_dup_alive_keeps_the_stale_item_EP20(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    d = twin.dup(a)
    twin.close(a)  # the file lives on through d: the item stays, with the old data
    twin.send(b, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    for op in (DEL, MOD):  # the closed number no longer resolves to a file
        with pytest.raises(OSError) as info:
            twin.epoll_ctl(ep, op, a, IN)
        assert _errno(info) == errno.EBADF
    with pytest.raises(FileNotFoundError):  # the dup is a different key
        twin.epoll_ctl(ep, DEL, d)
    twin.epoll_ctl(ep, ADD, d, IN)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN), (d, IN)]
    twin.close(d)  # last reference: every item on that file goes, silently
    assert twin.epoll_wait(ep, 8, 0) == []
    assert interest_list(twin, ep) == []


def test_a_reused_fd_number_is_a_new_key_EP2_EP20(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    d = twin.dup(a)
    twin.close(a)
    a2, b2 = twin.socketpair()
    assert a2 == a  # the lowest free number
    twin.epoll_ctl(ep, ADD, a2, IN)  # (new file, a): no clash with (old file, a)
    twin.send(b, 1)
    twin.send(b2, 1)
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN), (a, IN)]
    twin.epoll_ctl(ep, DEL, a)  # finds the item of the file now installed at a
    assert twin.epoll_wait(ep, 8, 0) == [(a, IN)]
    twin.recv(a2, 1)
    twin.recv(d, 1)
    twin.send(b2, 1)
    assert twin.epoll_wait(ep, 8, 0) == []


def test_closing_the_last_reference_removes_the_item_from_every_epoll_EP20(
    twin: Twin,
) -> None:
    a, b = twin.socketpair()
    eps = [epoll_with(twin, (a, IN)), epoll_with(twin, (a, OUT | ET))]
    twin.send(b, 1)
    twin.close(a)  # no event, no wake-up: the items just go
    for ep in eps:
        assert twin.epoll_wait(ep, 8, 0) == []
        assert interest_list(twin, ep) == []


def test_epoll_create_at_the_descriptor_limit_is_EMFILE_EP26(twin: Twin) -> None:
    a, _b = twin.socketpair()
    twin.setrlimit_nofile(a + 2)
    with pytest.raises(OSError) as info:
        twin.epoll_create()
    assert _errno(info) == errno.EMFILE
    twin.close(a)
    assert twin.epoll_create() == a


def test_closing_the_epoll_fd_drops_its_items_dup_keeps_it_alive_EP21(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    ep2 = twin.dup(ep)
    twin.close(ep)
    twin.send(b, 1)
    assert twin.epoll_wait(ep2, 8, 0) == [(a, IN)]
    twin.epoll_ctl(ep2, DEL, a)
    twin.close(ep2)
    with pytest.raises(OSError) as info:
        twin.epoll_wait(ep2, 8, 0)
    assert _errno(info) == errno.EBADF
    with pytest.raises(OSError) as info:
        twin.epoll_ctl(ep2, ADD, a, IN)
    assert _errno(info) == errno.EBADF
    twin.close(a)
    twin.close(b)


# --- errors ---------------------------------------------------------------------------------------


def test_epoll_ctl_errno_precedence_EP25(twin: Twin) -> None:
    a, b = twin.socketpair()
    f = twin.open_file()
    ep = twin.epoll_create()
    closed = twin.socketpair()[0]
    twin.close(closed)

    def errno_of(epfd: int, op: int, fd: int, events: int = IN) -> int | None:
        with pytest.raises(OSError) as info:
            twin.epoll_ctl(epfd, op, fd, events)
        return _errno(info)

    assert errno_of(closed, ADD, closed) == errno.EBADF  # 2. epfd first
    assert errno_of(closed, ADD, f) == errno.EBADF
    assert errno_of(ep, ADD, closed) == errno.EBADF  # 3. then fd
    assert errno_of(ep, ADD, 9999) == errno.EBADF
    for op in (ADD, MOD, DEL, 0, 99):  # 4. no ->poll: EPERM, whatever the op...
        assert errno_of(ep, op, f) == errno.EPERM
    assert errno_of(a, ADD, f) == errno.EPERM  # ...even when epfd is not an epoll
    assert errno_of(f, ADD, f) == errno.EPERM  # ...or is the target itself
    assert errno_of(a, ADD, b) == errno.EINVAL  # 6. epfd not an epoll
    assert errno_of(a, DEL, b) == errno.EINVAL
    assert errno_of(f, ADD, a) == errno.EINVAL
    assert errno_of(ep, ADD, ep) == errno.EINVAL  # 6. an epoll in itself
    assert errno_of(ep, DEL, ep) == errno.EINVAL
    assert errno_of(ep, MOD, a, IN | EPOLLEXCLUSIVE) == errno.EINVAL  # 7. before ENOENT
    twin.epoll_ctl(ep, ADD, a, IN)
    assert errno_of(ep, ADD, a, IN | EPOLLEXCLUSIVE | RDHUP) == errno.EINVAL  # before EEXIST
    assert errno_of(ep, ADD, a) == errno.EEXIST  # 9.
    assert errno_of(ep, MOD, b) == errno.ENOENT
    assert errno_of(ep, DEL, b) == errno.ENOENT
    with pytest.raises(FileExistsError):
        twin.epoll_ctl(ep, ADD, a, IN)
    with pytest.raises(FileNotFoundError):
        twin.epoll_ctl(ep, MOD, b, IN)


@pytest.mark.parametrize("op", [0, 4, 99, -1, 2**31 - 1])
def test_unknown_op_is_EINVAL_EP25(twin: Twin, op: int) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    for fd in (a, b):  # registered or not
        with pytest.raises(OSError) as info:
            twin.epoll_ctl(ep, op, fd, IN)
        assert _errno(info) == errno.EINVAL
    with pytest.raises(OSError) as info:  # an unknown op reads the event: EXCLUSIVE checks
        twin.epoll_ctl(ep, op, b, IN | EPOLLEXCLUSIVE | RDHUP)
    assert _errno(info) == errno.EINVAL
    assert interest_list(twin, ep) == [(a, IN | ERR | HUP, a)]


def test_negative_descriptors_are_ValueError_EP27(twin: Twin) -> None:
    a, _b = twin.socketpair()
    ep = twin.epoll_create()
    for epfd, fd in ((ep, -1), (-1, a), (-5, -5)):
        with pytest.raises(ValueError):
            twin.epoll_ctl(epfd, ADD, fd, IN)


def test_epoll_wait_errors_EP26_EP27(twin: Twin) -> None:
    a, _b = twin.socketpair()
    f = twin.open_file()
    ep = twin.epoll_create()
    for maxevents in (0, -2, -1000):
        with pytest.raises(ValueError):  # CPython: "maxevents must be greater than 0"
            twin.epoll_wait(ep, maxevents, 0)
    for fd in (a, f):
        with pytest.raises(OSError) as info:
            twin.epoll_wait(fd, 8, 0)  # not an epoll
        assert _errno(info) == errno.EINVAL
    with pytest.raises(OSError) as info:
        twin.epoll_wait(999, 8, 0)
    assert _errno(info) == errno.EBADF
    with pytest.raises(OSError) as info:
        twin.epoll_wait(ep, EP_MAX_EVENTS + 1, 0)
    assert _errno(info) == errno.EINVAL
    assert twin.epoll_wait(ep, EP_MAX_EVENTS, 0) == []


def test_epoll_wait_checks_the_fd_before_maxevents_EP26(twin: Twin) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(OSError) as info:
        twin.epoll_wait(999, EP_MAX_EVENTS + 1, 0)
    assert _errno(info) == errno.EBADF
    with pytest.raises(OSError) as info:
        twin.epoll_wait(a, EP_MAX_EVENTS + 1, 0)
    assert _errno(info) == errno.EINVAL


# --- timeouts -------------------------------------------------------------------------------------


def test_epoll_wait_small_timeout_returns_empty_EP10(twin: Twin) -> None:
    a, _b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    assert twin.epoll_wait(ep, 8, 5) == []
    assert twin.epoll_wait(ep, 8, 1) == []


def test_epoll_wait_infinite_returns_at_once_when_ready_EP10(twin: Twin) -> None:
    a, _b = twin.socketpair()
    ep = epoll_with(twin, (a, OUT))
    assert twin.epoll_wait(ep, 8, -1) == [(a, OUT)]


def test_epoll_wait_infinite_with_nothing_that_can_wake_EP10(twin: Twin) -> None:
    a, _b = twin.socketpair()
    ep = epoll_with(twin, (a, IN))
    waits_forever(twin, lambda k: k.epoll_wait(ep, 8, -1))
