"""The model's tasks and CPUs (`simulator.kernel.sched`): what only the model can show.

Context switches charged to the call that caused them, a sleeping thread's timeout on the
virtual clock, checkpoints refused while a thread is inside a call, and threads ended by
`close_all`. What Linux can show is in `test_diff_threads.py`.
"""

from __future__ import annotations

import copy
import threading

import pytest

from simulator.kernel import ModelKernel
from simulator.observe import Threaded, TraceKind
from simulator.uapi import EPOLL_CTL_ADD, EPOLLIN, KQ_EV_ADD, KQ_FILTER_READ, KEvent


def test_a_wake_up_charges_the_context_switches_to_the_waking_call() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    k.set_blocking(a, True)
    t = k.spawn_thread()
    assert k.start(t, "recv", a, 8) is False
    assert k.last_cost.context_switch == 2  # onto a CPU, then off it as it sleeps
    k.send(b, 3)
    kinds = [e.kind for e in k.trace if e.kind in (TraceKind.THREAD_WAKE, TraceKind.THREAD_SLEEP)]
    assert kinds == [TraceKind.THREAD_WAKE, TraceKind.THREAD_SLEEP]  # runs, then finishes
    assert k.last_cost.context_switch == 2
    assert k.sched.context_switches == 4
    assert k.join(t) == 3


def test_threads_run_on_the_simulated_cpus_round_robin() -> None:
    with ModelKernel(cpus=3) as k:
        a, _b = k.socketpair()
        k.set_blocking(a, True)
        tids = [k.spawn_thread() for _ in range(4)]
        for t in tids:
            k.start(t, "recv", a, 1)
        assert [k.sched.tasks[t].cpu for t in tids] == [1, 2, 0, 1]
        queue = k.fds()[a].wq.name
        assert [k.sched.tasks[t].sleeps_on for t in tids] == [queue] * 4
    with pytest.raises(ValueError, match="cpus"):
        ModelKernel(cpus=0)


def test_a_thread_times_out_when_thread_0_moves_the_virtual_clock() -> None:
    k = ModelKernel()
    a, _b = k.socketpair()
    ep = k.epoll_create()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN)
    t = k.spawn_thread()
    assert k.start(t, "epoll_wait", ep, 1, 5) is False  # 5 ms: only virtual time ends it
    assert k.thread_state(t) == ("sleeping", "epoll_wait")
    assert k.epoll_wait(ep, 1, 10) == []  # thread 0 waits 10 ms: the thread's timer fires
    assert k.join(t) == []


def test_a_model_is_copied_only_while_no_thread_is_inside_a_call() -> None:
    k = ModelKernel()
    a, b = k.socketpair()
    k.set_blocking(a, True)
    t = k.spawn_thread()
    k.start(t, "recv", a, 8)
    with pytest.raises(TypeError, match="threads are inside a call"):
        copy.deepcopy(k)
    k.send(b, 2)
    twin = copy.deepcopy(k)  # finished: a plain result, copied
    assert twin.join(t) == 2
    assert twin.thread_state(t) == ("idle", None)
    assert k.thread_state(t) == ("finished", "recv")  # the original is untouched
    assert twin.start(t, "recv", a, 8) is False  # and the copy runs threads of its own
    twin.close_all()


def test_close_all_ends_sleeping_threads_and_their_python_threads() -> None:
    before = set(threading.enumerate())
    k = ModelKernel()
    a, _b = k.socketpair()
    k.set_blocking(a, True)
    for _ in range(5):
        k.start(k.spawn_thread(), "recv", a, 1)
    ours = set(threading.enumerate()) - before
    assert len(ours) == 5
    k.close_all()
    assert k.sched.active == 0
    assert all(k.thread_state(t) == ("idle", None) for t in range(1, 6))
    for thread in ours:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_the_threads_view_shows_state_call_queue_and_cpu() -> None:
    with ModelKernel() as k:
        a, b = k.socketpair()
        k.set_blocking(a, True)
        t1, t2 = k.spawn_thread(), k.spawn_thread()
        k.start(t1, "recv", a, 8)
        assert isinstance(k, Threaded)
        view = k.threads()
        queue = k.wait_queue_of(a)
        assert queue is not None
        assert [(t.tid, t.state, t.call, t.sleeps_on) for t in view.threads] == [
            (0, "running", None, None),
            (t1, "sleeping", "recv", queue.name),
            (t2, "idle", None, None),
        ]
        assert (f"thread {t1} in recv", False) in queue.entries  # its entry, non-exclusive
        k.send(b, 3)
        done = k.threads().threads[t1]
        assert (done.state, done.outcome, done.cpu) == ("finished", "3", 1)
        assert k.threads().context_switches == 4


def test_a_thread_sleeps_in_kevent_until_a_send_model_only() -> None:
    # kqueue exists in the model only (Linux has none): a thread's kevent sleeps like the rest.
    with ModelKernel() as k:
        a, b = k.socketpair()
        kq = k.kqueue()
        k.kevent(kq, [KEvent(a, KQ_FILTER_READ, KQ_EV_ADD)], 0, 0)
        t = k.spawn_thread()
        assert k.start(t, "kevent", kq, [], 4, None) is False
        assert k.thread_state(t) == ("sleeping", "kevent")
        k.send(b, 3)
        events = k.join(t)
        assert isinstance(events, list)
        assert [(e.ident, e.data) for e in events] == [(a, 3)]
