"""Differential tests of epoll instances watched by poll, select and other epolls.

docs/kernel-spec.md EP-12 (polling an epoll fd re-polls its ready list but never consumes it; only
IN|RDNORM), EP-22 (self-insertion, cycles, the five-instance chain limit in both build orders,
wake-up path limits) and the single-threaded cases of the kernel selftest
``tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c`` (epoll1-8, epoll17-24,
epoll49-52). The selftests' multi-threaded cases need a second thread blocked in a call and
cannot be driven through the `Kernel` protocol.
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
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDNORM,
)
from tests.diffkit import epoll_with, interest_list
from tests.twin import Twin

ADD, DEL = EPOLL_CTL_ADD, EPOLL_CTL_DEL
IN, OUT, ET = EPOLLIN, EPOLLOUT, EPOLLET
MODES = {"lt": IN, "et": IN | ET}


def _errno_of_add(twin: Twin, epfd: int, fd: int, events: int = IN) -> int | None:
    with pytest.raises(OSError) as info:
        twin.epoll_ctl(epfd, ADD, fd, events)
    return info.value.errno


def _observe(twin: Twin, ep: int, observer: str) -> tuple[int, int]:
    """One selftest step: (poll on ep, if the observer polls first; epoll_wait(ep, n, 0))."""
    polled = len(twin.poll([(ep, IN)], 0)) if observer == "p" else -1
    return polled, len(twin.epoll_wait(ep, 2, 0))


# --- the kernel selftests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selftest", "mode", "observer", "second"),
    [
        ("epoll1", "lt", "ew", (-1, 1)),
        ("epoll2", "et", "ew", (-1, 0)),
        ("epoll5", "lt", "p", (1, 1)),
        ("epoll6", "et", "p", (0, 0)),
    ],
)
def test_selftest_one_socket_EP13_EP14(
    twin: Twin, selftest: str, mode: str, observer: str, second: tuple[int, int]
) -> None:
    s0, s1 = twin.socketpair()
    e0 = epoll_with(twin, (s0, MODES[mode]))
    twin.send(s1, 1)
    first = (1 if observer == "p" else -1, 1)
    assert _observe(twin, e0, observer) == first, selftest
    assert _observe(twin, e0, observer) == second, selftest


@pytest.mark.parametrize(
    ("selftest", "mode", "observer", "second"),
    [
        ("epoll3", "lt", "ew", (-1, 2)),
        ("epoll4", "et", "ew", (-1, 0)),
        ("epoll7", "lt", "p", (1, 2)),
        ("epoll8", "et", "p", (0, 0)),
    ],
)
def test_selftest_two_sockets_EP13_EP14(
    twin: Twin, selftest: str, mode: str, observer: str, second: tuple[int, int]
) -> None:
    s0, s1 = twin.socketpair()
    s2, s3 = twin.socketpair()
    e0 = epoll_with(twin, (s0, MODES[mode]), (s2, MODES[mode]))
    twin.send(s1, 1)
    twin.send(s3, 1)
    first = (1 if observer == "p" else -1, 2)
    assert _observe(twin, e0, observer) == first, selftest
    assert _observe(twin, e0, observer) == second, selftest


@pytest.mark.parametrize(
    ("selftest", "outer", "inner", "observer", "second"),
    [
        ("epoll17", "lt", "lt", "ew", (-1, 1)),
        ("epoll18", "lt", "et", "ew", (-1, 1)),
        ("epoll19", "et", "lt", "ew", (-1, 0)),
        ("epoll20", "et", "et", "ew", (-1, 0)),
        ("epoll21", "lt", "lt", "p", (1, 1)),
        ("epoll22", "lt", "et", "p", (1, 1)),
        ("epoll23", "et", "lt", "p", (0, 0)),
        ("epoll24", "et", "et", "p", (0, 0)),
    ],
)
def test_selftest_nested_epoll_EP12(
    twin: Twin, selftest: str, outer: str, inner: str, observer: str, second: tuple[int, int]
) -> None:
    s0, s1 = twin.socketpair()
    e0 = twin.epoll_create()
    e1 = epoll_with(twin, (s0, MODES[inner]))
    twin.epoll_ctl(e0, ADD, e1, MODES[outer])
    twin.send(s1, 1)
    first = (1 if observer == "p" else -1, 1)
    assert _observe(twin, e0, observer) == first, selftest
    # epoll18/22: the LT outer re-polls e1 each time, which never consumes s0's ET edge.
    assert _observe(twin, e0, observer) == second, selftest


@pytest.mark.parametrize(
    ("selftest", "outer", "observer", "second"),
    [
        ("epoll49", "lt", "ew", (-1, 2)),
        ("epoll50", "et", "ew", (-1, 0)),
        ("epoll51", "lt", "p", (1, 2)),
        ("epoll52", "et", "p", (0, 0)),
    ],
)
def test_selftest_two_nested_epolls_EP12(
    twin: Twin, selftest: str, outer: str, observer: str, second: tuple[int, int]
) -> None:
    s0, s1 = twin.socketpair()
    s2, s3 = twin.socketpair()
    e0 = twin.epoll_create()
    e1 = epoll_with(twin, (s0, IN))
    e2 = epoll_with(twin, (s2, IN))
    twin.epoll_ctl(e0, ADD, e1, MODES[outer])
    twin.epoll_ctl(e0, ADD, e2, MODES[outer])
    twin.send(s1, 1)
    twin.send(s3, 1)
    first = (1 if observer == "p" else -1, 2)
    assert _observe(twin, e0, observer) == first, selftest
    assert _observe(twin, e0, observer) == second, selftest


# --- polling an epoll fd --------------------------------------------------------------------------


def test_polling_an_epoll_fd_never_consumes_EP12(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    inner = epoll_with(twin, (s0, IN | ET))
    outer = epoll_with(twin, (inner, IN | OUT | EPOLLRDNORM))
    twin.send(s1, 1)
    for _ in range(3):  # poll, select and the outer epoll all re-poll; none consumes
        assert twin.poll([(inner, IN | OUT | EPOLLPRI)], 0) == [(inner, IN)]
        assert twin.select([inner], [inner], [inner], 0) == ([inner], [], [])
        assert twin.epoll_wait(outer, 8, 0) == [(inner, IN | EPOLLRDNORM)]  # never OUT
    assert twin.epoll_wait(inner, 8, 0) == [(s0, IN)]  # the edge is still there
    assert twin.poll([(inner, IN)], 0) == []
    assert twin.select([inner], [inner], [inner], 0) == ([], [], [])
    assert twin.epoll_wait(outer, 8, 0) == []


def test_an_epoll_fd_is_never_writable_EP12(twin: Twin) -> None:
    s0, _s1 = twin.socketpair()
    inner = epoll_with(twin, (s0, OUT))  # ready at once
    out_only = epoll_with(twin, (inner, OUT))
    assert twin.poll([(inner, OUT)], 0) == []
    assert twin.poll([(inner, IN | OUT)], 0) == [(inner, IN)]
    assert twin.epoll_wait(out_only, 8, 0) == []
    assert interest_list(twin, out_only) == [(inner, OUT | EPOLLERR | EPOLLHUP, inner)]


def test_an_epoll_with_only_stale_items_is_not_readable_EP12(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    inner = epoll_with(twin, (s0, IN))
    outer = epoll_with(twin, (inner, IN))
    twin.send(s1, 2)
    assert twin.recv(s0, 10) == 2  # inner's ready list still holds s0, not ready any more
    assert twin.poll([(inner, IN)], 0) == []
    assert twin.epoll_wait(outer, 8, 0) == []
    assert twin.epoll_wait(inner, 8, 0) == []


def test_readiness_climbs_a_chain_of_five_EP12_EP22(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    chain = [epoll_with(twin, (s0, IN | ET))]
    for _ in range(4):
        chain.append(epoll_with(twin, (chain[-1], IN)))
    top = chain[-1]
    assert twin.epoll_wait(top, 8, 0) == []
    twin.send(s1, 1)
    assert twin.epoll_wait(top, 8, 0) == [(chain[-2], IN)]
    assert twin.epoll_wait(top, 8, 0) == [(chain[-2], IN)]
    assert twin.epoll_wait(chain[0], 8, 0) == [(s0, IN)]  # consumed at the bottom only
    assert twin.epoll_wait(top, 8, 0) == []


def test_add_and_mod_inside_an_inner_epoll_wake_the_outer_EP6_EP7_EP12(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    inner = twin.epoll_create()
    outer = epoll_with(twin, (inner, IN | ET))
    twin.send(s1, 1)
    twin.epoll_ctl(inner, ADD, s0, IN | ET)  # ready on insert: inner's pollers are woken
    assert twin.epoll_wait(outer, 8, 0) == [(inner, IN)]
    assert twin.epoll_wait(outer, 8, 0) == []
    assert twin.epoll_wait(inner, 8, 0) == [(s0, IN)]
    assert twin.epoll_wait(outer, 8, 0) == []
    twin.epoll_ctl(inner, EPOLL_CTL_MOD, s0, IN | ET)  # re-read: queued again, a new edge
    assert twin.epoll_wait(outer, 8, 0) == [(inner, IN)]
    twin.epoll_ctl(inner, DEL, s0)  # no wake-up; the outer item drops at its next transfer
    assert twin.epoll_wait(outer, 8, 0) == []


def test_closing_an_inner_epoll_removes_it_from_the_outer_EP20_EP22(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    inner = epoll_with(twin, (s0, IN))
    outer = epoll_with(twin, (inner, IN))
    twin.send(s1, 1)
    assert twin.epoll_wait(outer, 8, 0) == [(inner, IN)]
    twin.close(inner)
    assert twin.epoll_wait(outer, 8, 0) == []
    assert interest_list(twin, outer) == []


# --- nesting limits -------------------------------------------------------------------------------


def test_epoll_in_itself_is_EINVAL_EP22(twin: Twin) -> None:
    ep = twin.epoll_create()
    assert _errno_of_add(twin, ep, ep) == errno.EINVAL
    dup = twin.dup(ep)  # another fd of the same file: still itself
    assert _errno_of_add(twin, ep, dup) == errno.EINVAL
    assert _errno_of_add(twin, dup, ep) == errno.EINVAL


def test_exclusive_on_an_epoll_target_is_EINVAL_EP16_EP22(twin: Twin) -> None:
    inner = twin.epoll_create()
    outer = twin.epoll_create()
    assert _errno_of_add(twin, outer, inner, IN | EPOLLEXCLUSIVE) == errno.EINVAL


def test_a_cycle_is_ELOOP_EP22(twin: Twin) -> None:
    e1, e2, e3 = (twin.epoll_create() for _ in range(3))
    twin.epoll_ctl(e1, ADD, e2, IN)
    assert _errno_of_add(twin, e2, e1) == errno.ELOOP
    twin.epoll_ctl(e2, ADD, e3, IN)
    assert _errno_of_add(twin, e3, e1) == errno.ELOOP  # a longer cycle
    assert _errno_of_add(twin, e3, twin.dup(e1)) == errno.ELOOP
    twin.epoll_ctl(e1, DEL, e2)  # cut: the same ADD is fine now
    twin.epoll_ctl(e3, ADD, e1, IN)


@pytest.mark.parametrize("order", ["top_down", "bottom_up"])
def test_chain_of_six_is_ELOOP_both_orders_EP22(twin: Twin, order: str) -> None:
    eps = [twin.epoll_create() for _ in range(6)]  # eps[i] watches eps[i + 1]
    links = [0, 1, 2, 3, 4] if order == "top_down" else [4, 3, 2, 1, 0]
    for i in links[:4]:
        twin.epoll_ctl(eps[i], ADD, eps[i + 1], IN)  # a chain of five instances: allowed
    sixth = links[4]  # top-down: found walking up from eps[4]; bottom-up: walking down
    assert _errno_of_add(twin, eps[sixth], eps[sixth + 1]) == errno.ELOOP


def test_joining_two_chains_counts_both_halves_EP22(twin: Twin) -> None:
    u0, u1, u2, l0, l1, l2 = (twin.epoll_create() for _ in range(6))
    for outer, inner in ((u0, u1), (u1, u2), (l0, l1), (l1, l2)):
        twin.epoll_ctl(outer, ADD, inner, IN)
    assert _errno_of_add(twin, u2, l0) == errno.ELOOP  # 3 + 3 instances
    twin.epoll_ctl(u2, ADD, l1, IN)  # 3 + 2: the limit
    assert _errno_of_add(twin, l2, twin.epoll_create()) == errno.ELOOP  # below the bottom
    assert _errno_of_add(twin, twin.epoll_create(), u0) == errno.ELOOP  # above the top
    twin.epoll_ctl(l0, ADD, twin.epoll_create(), IN)  # l0 -> l1 -> l2 is only three deep


def test_a_wide_tree_of_depth_five_is_fine_EP22(twin: Twin) -> None:
    top = twin.epoll_create()
    level = [top]
    for _ in range(4):
        nxt = []
        for parent in level:
            for _ in range(2):
                child = twin.epoll_create()
                twin.epoll_ctl(parent, ADD, child, IN)
                nxt.append(child)
        level = nxt
    extra = twin.epoll_create()
    assert _errno_of_add(twin, level[0], extra) == errno.ELOOP
    s0, s1 = twin.socketpair()
    twin.epoll_ctl(level[-1], ADD, s0, IN)  # a socket below the fifth level is fine
    twin.send(s1, 1)
    assert len(twin.epoll_wait(top, 8, 0)) == 1


@pytest.mark.parametrize("order", ["socket_last", "nest_last"])
def test_too_many_wakeup_paths_is_EINVAL_EP22(twin: Twin, order: str) -> None:
    s0, s1 = twin.socketpair()
    outer = twin.epoll_create()
    inners = [twin.epoll_create() for _ in range(501)]
    first, second = (outer, s0) if order == "socket_last" else (s0, outer)

    def link(what: int, inner: int) -> None:
        if what == outer:
            twin.epoll_ctl(outer, ADD, inner, IN)
        else:
            twin.epoll_ctl(inner, ADD, s0, IN)

    for inner in inners:
        link(first, inner)
    for inner in inners[:500]:  # 500 paths of length 2 from s0 up to outer: the limit
        link(second, inner)
    with pytest.raises(OSError) as info:
        link(second, inners[500])
    assert info.value.errno == errno.EINVAL
    twin.send(s1, 1)
    assert len(twin.epoll_wait(outer, 1000, 0)) == 500


def test_paths_of_length_three_are_limited_to_100_EP22(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    outer = twin.epoll_create()
    inners = []
    for _ in range(101):  # s0 -> inner -> mid -> outer, 101 times over
        inner, mid = twin.epoll_create(), twin.epoll_create()
        twin.epoll_ctl(mid, ADD, inner, IN)
        twin.epoll_ctl(outer, ADD, mid, IN)
        inners.append(inner)
    for inner in inners[:100]:
        twin.epoll_ctl(inner, ADD, s0, IN)
    assert _errno_of_add(twin, inners[100], s0) == errno.EINVAL
    twin.send(s1, 1)
    assert len(twin.epoll_wait(outer, 200, 0)) == 100


def test_direct_watchers_are_not_counted_as_paths_EP22(twin: Twin) -> None:
    s0, s1 = twin.socketpair()
    twin.setrlimit_nofile(1100)
    for _ in range(1001):  # paths of length 1: any number
        epoll_with(twin, (s0, IN))
    inner = twin.epoll_create()
    outer = epoll_with(twin, (inner, IN))
    twin.epoll_ctl(inner, ADD, s0, IN)  # a full check, with 1001 uncounted paths
    twin.send(s1, 1)
    assert twin.epoll_wait(outer, 8, 0) == [(inner, IN)]
