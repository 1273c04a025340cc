"""Differential tests of threads and blocking descriptors: docs/kernel-spec.md part F, EP-10,
EP-11, EP-16, EP-21 and PS-5.

Every call goes through `Twin`, so each line is checked on both kernels -- `start`'s answer
(finished at once, or asleep) and every `thread_state` included. Where Linux does not define
which of several equal threads wins (non-exclusive wake-ups: every sleeper runs, in an order
of the scheduler's choosing), the test reads each kernel alone and asserts only what Linux
defines: how many finished, and with what.

The ``test_epollN`` tests port the multi-threaded cases of the kernel's own selftest
(tools/testing/selftests/filesystems/epoll/epoll_wakeup_test.c). There thread 0 blocks too and
an emitter thread writes after 100 ms; here thread 0 is the emitter and the waiters are
spawned threads, which is the same race with the write ordered after every sleep.
"""

from __future__ import annotations

import errno
import functools
import subprocess
import sys
from collections import Counter

import pytest

from simulator.kernel import ModelKernel
from simulator.live import LiveKernel
from simulator.live import kernel as live_kernel
from simulator.scenario.loader import parse_scenario
from simulator.scenario.runner import Runner, Verdict, default_model_factory
from simulator.threads import MAX_THREADS
from simulator.uapi import (
    EPOLL_CTL_ADD,
    EPOLL_CTL_MOD,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLIN,
    EPOLLONESHOT,
    POLLIN,
    POLLNVAL,
    SHUT_WR,
    Kernel,
    WaitForeverError,
)
from tests.diffkit import epoll_with, pair
from tests.twin import Twin

SLEEPING = ("sleeping", "epoll_wait")


def states(twin: Twin, tids: list[int]) -> list[tuple[str, str | None]]:
    return [twin.thread_state(t) for t in tids]


def spawn(twin: Twin, n: int) -> list[int]:
    return [twin.spawn_thread() for _ in range(n)]


# --- TH-1: blocking is per open file description --------------------------------------------


def test_recv_answers_eagain_when_non_blocking_and_sleeps_when_blocking_TH1(twin: Twin) -> None:
    a, b = twin.socketpair()
    with pytest.raises(BlockingIOError):
        twin.recv(a, 10)  # sockets are created non-blocking
    t = twin.spawn_thread()
    assert twin.start(t, "recv", a, 10) is True  # a non-blocking call never sleeps
    with pytest.raises(BlockingIOError):
        twin.join(t)
    twin.set_blocking(a, True)
    assert twin.start(t, "recv", a, 10) is False
    assert twin.thread_state(t) == ("sleeping", "recv")
    twin.send(b, 5)  # sk_data_ready wakes the sleeper, which reads
    assert twin.thread_state(t) == ("finished", "recv")
    assert twin.join(t) == 5
    assert twin.thread_state(t) == ("idle", None)


def test_a_dup_shares_o_nonblock_TH1(twin: Twin) -> None:
    a, b = twin.socketpair()
    d = twin.dup(a)
    twin.set_blocking(d, True)  # the open file description: `a` follows
    t = twin.spawn_thread()
    assert twin.start(t, "recv", a, 4) is False
    twin.send(b, 9)
    assert twin.join(t) == 4
    twin.set_blocking(a, False)
    assert twin.recv(d, 100) == 5
    with pytest.raises(BlockingIOError):
        twin.recv(d, 100)  # non-blocking again, through the dup too


def test_thread_0_blocking_with_nothing_to_end_it_waits_forever_TH1(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.set_blocking(a, True)
    for kernel in (twin.model, twin.live):  # messages differ by design (the live bound)
        with pytest.raises(WaitForeverError):
            kernel.recv(a, 1)
    twin.send(b, 3)
    assert twin.recv(a, 10) == 3  # with data, a blocking recv returns at once


def test_o_nonblock_changed_under_a_sleeper_wakes_nobody_TH1(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.set_blocking(a, True)
    t = twin.spawn_thread()
    assert twin.start(t, "recv", a, 10) is False
    twin.set_blocking(a, False)
    assert twin.thread_state(t) == ("sleeping", "recv")
    twin.send(b, 2)  # it was already asleep: it reads, it does not answer EAGAIN
    assert twin.join(t) == 2


def test_a_blocking_send_on_a_full_buffer_sleeps_until_the_peer_reads_TH2(twin: Twin) -> None:
    a, b = twin.socketpair()
    twin.fill(a)
    twin.set_blocking(a, True)
    t = twin.spawn_thread()
    assert twin.start(t, "send", a, 100) is False
    assert twin.thread_state(t) == ("sleeping", "send")
    twin.recv(b, 1)  # frees too little: unix_write_space needs room for a whole skb
    read = 0
    while twin.thread_state(t)[0] == "sleeping":
        read += twin.recv(b, 65536)
        assert read < 1 << 22
    assert twin.join(t) == 100


def test_a_socket_number_beyond_a_c_int_is_cut_before_blocking_is_looked_at_TH1(
    twin: Twin,
) -> None:
    # socket(fileno=...) cuts the number to a C int; found by the fuzzer when the live engine
    # first asked O_NONBLOCK of the uncut number (OverflowError instead of the kernel's answer).
    listener = twin.tcp_listen()
    a, b = twin.socketpair()
    with pytest.raises(BlockingIOError):
        twin.accept(listener + 2**32)
    with pytest.raises(BlockingIOError):
        twin.recv(a + 2**32, 1)
    assert twin.send(b + 2**32, 3) == 3


def test_a_blocking_recv_sleeps_until_a_send_on_either_family_TH1(twin: Twin, family: str) -> None:
    a, b = pair(twin, family)
    twin.set_blocking(b, True)
    t = twin.spawn_thread()
    assert twin.start(t, "recv", b, 100) is False
    twin.send(a, 10)
    assert twin.join(t) == 10
    assert twin.start(t, "recv", b, 100) is False
    twin.shutdown(a, SHUT_WR)  # end of stream wakes it too: recv answers 0
    assert twin.join(t) == 0


# --- TH-3: blocking accept, exclusive, oldest first; the fd is reserved while asleep ---------


def test_blocking_accept_wakes_the_oldest_sleeper_one_per_connection_TH3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    twin.set_blocking(listener, True)
    tids = spawn(twin, 3)
    assert [twin.start(t, "accept", listener) for t in tids] == [False, False, False]
    twin.tcp_connect(listener)
    assert states(twin, tids) == [
        ("finished", "accept"),
        ("sleeping", "accept"),
        ("sleeping", "accept"),
    ]
    twin.tcp_connect(listener)
    assert states(twin, tids)[1:] == [("finished", "accept"), ("sleeping", "accept")]
    first, second = twin.join(tids[0]), twin.join(tids[1])
    assert first < second


def test_a_thread_asleep_in_accept_holds_its_new_fd_number_TH3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    twin.set_blocking(listener, True)
    t = twin.spawn_thread()
    assert twin.start(t, "accept", listener) is False
    a, b = twin.socketpair()  # the next free numbers: the sleeper has one reserved
    assert (a, b) == (listener + 2, listener + 3)
    twin.tcp_connect(listener)
    assert twin.join(t) == listener + 1


def test_a_blocking_accept_that_waits_forever_gives_its_fd_number_back_TH3(twin: Twin) -> None:
    # Found by the thundering-herd lesson: the model kept the number thread 0's accept had
    # reserved when it ended in WaitForeverError.
    listener = twin.tcp_listen()
    twin.set_blocking(listener, True)
    for kernel in (twin.model, twin.live):  # messages differ by design (the live bound)
        with pytest.raises(WaitForeverError):
            kernel.accept(listener)
    assert twin.socketpair() == (listener + 1, listener + 2)


def test_a_blocking_accept_at_the_descriptor_limit_fails_at_once_TH3(twin: Twin) -> None:
    listener = twin.tcp_listen()
    twin.set_blocking(listener, True)
    twin.setrlimit_nofile(listener + 1)  # no number left for the new descriptor
    t = twin.spawn_thread()
    assert twin.start(t, "accept", listener) is True  # the fd comes first: EMFILE, no sleep
    with pytest.raises(OSError) as caught:
        twin.join(t)
    assert caught.value.errno == errno.EMFILE


# --- EP-10 / EP-11: threads in epoll_wait on one instance -------------------------------------


def test_epoll_waiters_on_one_instance_are_woken_newest_first_EP10(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLIN | EPOLLET))
    tids = spawn(twin, 3)
    assert [twin.start(t, "epoll_wait", ep, 8, -1) for t in tids] == [False] * 3
    twin.send(b, 1)  # one edge, one waiter: the one queued last, at the head of ep->wq
    assert states(twin, tids) == [SLEEPING, SLEEPING, ("finished", "epoll_wait")]
    twin.send(b, 1)
    assert states(twin, tids)[:2] == [SLEEPING, ("finished", "epoll_wait")]
    assert twin.join(tids[1]) == twin.join(tids[2]) == [(a, EPOLLIN)]


def test_level_triggered_wakes_every_waiter_one_after_another_EP11(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLIN))
    tids = spawn(twin, 4)
    assert [twin.start(t, "epoll_wait", ep, 1, -1) for t in tids] == [False] * 4
    twin.send(b, 1)  # each transfer re-queues the LT item and ep_done_scan wakes the next
    assert [twin.join(t) for t in tids] == [[(a, EPOLLIN)]] * 4


def test_oneshot_hands_one_event_to_one_worker_until_mod_rearms_it_EP11(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLIN | EPOLLONESHOT))
    tids = spawn(twin, 2)
    assert [twin.start(t, "epoll_wait", ep, 8, -1) for t in tids] == [False, False]
    twin.send(b, 1)
    assert states(twin, tids) == [SLEEPING, ("finished", "epoll_wait")]
    twin.send(b, 1)  # disarmed: more data wakes nobody
    assert twin.thread_state(tids[0]) == SLEEPING
    twin.epoll_ctl(ep, EPOLL_CTL_MOD, a, EPOLLIN | EPOLLONESHOT)  # re-armed, and ready
    assert twin.thread_state(tids[0]) == ("finished", "epoll_wait")
    assert twin.join(tids[0]) == twin.join(tids[1]) == [(a, EPOLLIN)]


def test_adding_a_ready_fd_wakes_a_thread_in_epoll_wait_EP11(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = twin.epoll_create()
    t = twin.spawn_thread()
    assert twin.start(t, "epoll_wait", ep, 8, -1) is False
    twin.send(b, 1)  # not registered yet: nobody wakes
    assert twin.thread_state(t) == SLEEPING
    twin.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)  # ep_insert finds it ready: wakes ep->wq
    assert twin.join(t) == [(a, EPOLLIN)]


def test_closing_the_last_reference_of_a_watched_fd_wakes_nobody_EP20(twin: Twin) -> None:
    a, b = twin.socketpair()
    c, d = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLIN), (c, EPOLLIN))
    t = twin.spawn_thread()
    assert twin.start(t, "epoll_wait", ep, 8, -1) is False
    twin.close(a)  # the item goes away silently
    assert twin.thread_state(t) == SLEEPING
    with pytest.raises(BrokenPipeError):
        twin.send(b, 1)  # to the peer of a closed socket: EPIPE, and still nobody wakes
    assert twin.thread_state(t) == SLEEPING
    twin.send(d, 1)
    assert twin.join(t) == [(c, EPOLLIN)]


# --- EP-16 / TH-4: the herd on a listener --------------------------------------------------


def test_one_epoll_per_thread_on_one_listener_wakes_the_whole_herd_TH4(twin: Twin) -> None:
    listener = twin.tcp_listen()
    eps = [epoll_with(twin, (listener, EPOLLIN)) for _ in range(3)]
    tids = spawn(twin, 3)
    for t, ep in zip(tids, eps, strict=True):
        assert twin.start(t, "epoll_wait", ep, 8, -1) is False
    twin.tcp_connect(listener)
    assert [twin.join(t) for t in tids] == [[(listener, EPOLLIN)]] * 3
    twin.accept(listener)  # only one of them can have it
    with pytest.raises(BlockingIOError):
        twin.accept(listener)


def test_epollexclusive_wakes_one_instance_per_wake_up_in_the_order_added_EP16(
    twin: Twin,
) -> None:
    listener = twin.tcp_listen()
    eps = [epoll_with(twin, (listener, EPOLLIN | EPOLLEXCLUSIVE)) for _ in range(3)]
    tids = spawn(twin, 3)
    for t, ep in zip(tids, eps, strict=True):
        assert twin.start(t, "epoll_wait", ep, 8, -1) is False
    twin.tcp_connect(listener)
    assert states(twin, tids) == [("finished", "epoll_wait"), SLEEPING, SLEEPING]
    twin.accept(listener)
    twin.tcp_connect(listener)
    assert states(twin, tids)[1:] == [("finished", "epoll_wait"), SLEEPING]


# --- EP-21 / PS-5: closing what a thread sleeps on wakes nobody ----------------------------


def test_closing_the_epoll_fd_under_a_sleeper_wakes_nobody_EP21(twin: Twin) -> None:
    a, b = twin.socketpair()
    ep = epoll_with(twin, (a, EPOLLIN))
    t = twin.spawn_thread()
    assert twin.start(t, "epoll_wait", ep, 8, -1) is False
    twin.close(ep)
    assert twin.thread_state(t) == SLEEPING
    twin.send(b, 1)  # the sleeping call still holds the instance: it reports the event
    assert twin.join(t) == [(a, EPOLLIN)]


def test_closing_a_polled_fd_under_a_sleeper_wakes_nobody_PS5(twin: Twin) -> None:
    a, _b = twin.socketpair()
    c, d = twin.socketpair()
    t = twin.spawn_thread()
    assert twin.start(t, "poll", [(a, POLLIN), (c, POLLIN)], -1) is False
    twin.close(a)
    assert twin.thread_state(t) == ("sleeping", "poll")
    twin.send(d, 1)  # woken by c, do_poll scans every number again: `a` is gone now
    assert twin.join(t) == [(a, POLLNVAL), (c, POLLIN)]


def test_a_closed_fd_shows_in_every_set_of_a_select_woken_later_PS5(twin: Twin) -> None:
    a, _b = twin.socketpair()
    c, d = twin.socketpair()
    t = twin.spawn_thread()
    assert twin.start(t, "select", [a, c], [], [a], None) is False
    twin.close(a)
    assert twin.thread_state(t) == ("sleeping", "select")
    twin.send(d, 1)
    assert twin.join(t) == ([a, c], [], [a])


def test_select_and_poll_sleepers_all_wake_on_one_send_PS5(twin: Twin) -> None:
    a, b = twin.socketpair()
    tids = spawn(twin, 2)
    assert twin.start(tids[0], "poll", [(a, POLLIN)], -1) is False
    assert twin.start(tids[1], "select", [a], [], [], None) is False
    twin.send(b, 1)  # poll and select wait non-exclusively: both wake
    assert twin.join(tids[0]) == [(a, POLLIN)]
    assert twin.join(tids[1]) == ([a], [], [])


# --- ports of epoll_wakeup_test.c (two threads) --------------------------------------------


@pytest.mark.parametrize(("events", "count"), [(EPOLLIN, 2), (EPOLLIN | EPOLLET, 1)])
def test_epoll9_epoll10_two_waiters_one_socket_EP11(twin: Twin, events: int, count: int) -> None:
    s0, s1 = twin.socketpair()
    ep = epoll_with(twin, (s0, events))
    tids = spawn(twin, 2)
    assert [twin.start(t, "epoll_wait", ep, 1, -1) for t in tids] == [False, False]
    twin.send(s1, 1)
    finished = [t for t in tids if twin.thread_state(t)[0] == "finished"]
    assert len(finished) == count


@pytest.mark.parametrize(("events", "maxevents"), [(EPOLLIN, 2), (EPOLLIN | EPOLLET, 1)])
def test_epoll11_epoll12_two_waiters_two_sockets_EP11(
    twin: Twin, events: int, maxevents: int
) -> None:
    s0, s1 = twin.socketpair()
    s2, s3 = twin.socketpair()
    ep = epoll_with(twin, (s0, events), (s2, events))
    tids = spawn(twin, 2)
    assert [twin.start(t, "epoll_wait", ep, maxevents, -1) for t in tids] == [False, False]
    twin.send(s1, 1)
    twin.send(s3, 1)
    assert [twin.thread_state(t)[0] for t in tids] == ["finished", "finished"]


def test_epoll13_an_epoll_waiter_and_a_poller_of_the_epoll_fd_level_triggered_EP12(
    twin: Twin,
) -> None:
    s0, s1 = twin.socketpair()
    ep = epoll_with(twin, (s0, EPOLLIN))
    waiter, poller = spawn(twin, 2)
    assert twin.start(waiter, "epoll_wait", ep, 1, -1) is False
    assert twin.start(poller, "poll", [(ep, POLLIN)], -1) is False
    twin.send(s1, 1)  # ep_poll_callback wakes ep->wq and, through ep_poll_safewake, poll_wait
    assert twin.join(waiter) == [(s0, EPOLLIN)]
    assert twin.join(poller) == [(ep, POLLIN)]
    assert twin.epoll_wait(ep, 1, 0) == [(s0, EPOLLIN)]  # the poller's epoll_wait(0): count 2


# --- where Linux does not say who wins: only how many, with what ---------------------------


def _recv_herd(kernel: Kernel) -> Counter[object]:
    a, b = kernel.socketpair()
    kernel.set_blocking(a, True)
    tids = [kernel.spawn_thread() for _ in range(3)]
    assert [kernel.start(t, "recv", a, 100) for t in tids] == [False] * 3
    kernel.send(b, 7)  # non-exclusive: all wake, one reads, two find nothing and sleep again
    return Counter(
        kernel.join(t) if kernel.thread_state(t)[0] == "finished" else "asleep" for t in tids
    )


def test_recv_sleepers_all_wake_one_reads_the_rest_sleep_again_TH2() -> None:
    with LiveKernel(wait_bound_s=0.1) as live:
        real = _recv_herd(live)
    assert real == Counter({7: 1, "asleep": 2})
    with ModelKernel() as model:
        assert _recv_herd(model) == real


# --- TH-5: bad input, identical on both kernels --------------------------------------------


def test_bad_thread_input_is_refused_identically_TH5(twin: Twin) -> None:
    a, _b = twin.socketpair()
    with pytest.raises(ValueError, match="no thread 1"):
        twin.start(1, "recv", a, 1)
    with pytest.raises(ValueError, match="thread 0"):
        twin.thread_state(0)
    t = twin.spawn_thread()
    with pytest.raises(RuntimeError, match="is idle"):
        twin.join(t)
    with pytest.raises(ValueError, match="not a protocol call"):
        twin.start(t, "fork")
    with pytest.raises(ValueError, match="not a protocol call"):
        twin.start(t, "join", t)
    with pytest.raises(TypeError, match=r"recv\(\)"):
        twin.start(t, "recv", a)
    with pytest.raises(TypeError, match="a thread id is an int"):
        twin.join("1")
    with pytest.raises(ValueError, match="standard stream"):
        twin.start(t, "recv", 0, 1)
    twin.set_blocking(a, True)
    assert twin.start(t, "recv", a, 1) is False
    with pytest.raises(RuntimeError, match="sleeping in recv"):
        twin.start(t, "recv", a, 1)
    with pytest.raises(RuntimeError, match="still sleeping in recv"):
        twin.join(t)
    with pytest.raises(OSError) as caught:
        twin.set_blocking(99, True)
    assert caught.value.errno == errno.EBADF
    for _ in range(MAX_THREADS - 1):
        twin.spawn_thread()
    with pytest.raises(RuntimeError, match=f"at most {MAX_THREADS} threads"):
        twin.spawn_thread()


@pytest.mark.parametrize("make", [ModelKernel, lambda: LiveKernel(wait_bound_s=0.1)])
def test_threads_asleep_at_close_all_are_cleaned_up_TH5(make: type[Kernel]) -> None:
    kernel = make()
    a, _b = kernel.socketpair()
    listener = kernel.tcp_listen()
    ep = kernel.epoll_create()
    kernel.set_blocking(a, True)
    kernel.set_blocking(listener, True)
    for call, args in (
        ("recv", (a, 1)),
        ("accept", (listener,)),
        ("epoll_wait", (ep, 1, -1)),
        ("poll", ([(a, POLLIN)], -1)),
    ):
        assert kernel.start(kernel.spawn_thread(), call, *args) is False
    kernel.close_all()
    if isinstance(kernel, ModelKernel):
        assert set(kernel.fds()) == {0, 1, 2}
        assert [kernel.thread_state(t)[0] for t in range(1, 5)] == ["idle"] * 4
    else:
        assert isinstance(kernel, LiveKernel)
        assert not kernel.alive


# --- scenario files: set_blocking is a step ------------------------------------------------

BLOCKING_SCENARIO = """
[scenario]
title = "A blocking recv"
[model]
cpus = 3
[[step]]
do = "socketpair"
as = ["a", "b"]
[[step]]
do = "set_blocking"
args = { fd = "a", blocking = true }
[[step]]
do = "recv"
args = { fd = "a", nbytes = 4 }
expect = { error = "WaitForeverError" }
[[step]]
do = "send"
args = { fd = "b", nbytes = 4 }
[[step]]
do = "recv"
args = { fd = "a", nbytes = 4 }
expect = 4
"""


def test_a_scenario_step_sets_blocking_and_both_kernels_agree_TH1() -> None:
    scenario = parse_scenario(BLOCKING_SCENARIO)
    live = functools.partial(LiveKernel, wait_bound_s=0.1)
    with Runner(scenario, default_model_factory, live) as runner:
        verdicts = [record.verdict for record in runner]
    assert verdicts == [Verdict.AGREE] * 5
    assert isinstance(runner.model, ModelKernel) and runner.model.sched.ncpus == 3


# --- the live engine's view of its threads ---------------------------------------------------

_SLEEPER_AND_SPINNER = """
import select, sys, threading
threading.Thread(target=select.select, args=([], [], [], 60), daemon=True).start()
def spin():
    while True:
        pass
threading.Thread(target=spin, daemon=True).start()
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.read()
"""


def test_proc_tells_a_thread_asleep_in_a_syscall_from_a_busy_one() -> None:
    """What `LiveKernel._settle_threads` reads: a real process with one thread asleep in
    select(2) and one spinning; its main thread (reading stdin) is left out."""
    child = subprocess.Popen(
        [sys.executable, "-I", "-c", _SLEEPER_AND_SPINNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for _ in range(2000):  # until the sleeper is in the kernel (it starts first)
            states = live_kernel._task_states(child.pid)
            if any(s == "S" and n in live_kernel._BLOCKING_SYSCALLS for s, n, _ in states.values()):
                break
        letters = sorted(
            "asleep" if s == "S" and n in live_kernel._BLOCKING_SYSCALLS else "busy"
            for s, n, _ in states.values()
        )
        assert child.pid not in states
        assert letters == ["asleep", "busy"]
    finally:
        child.kill()
        child.wait()
