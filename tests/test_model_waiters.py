"""The wake-up rules of EP-11 and EP-16 with threads really asleep in epoll_wait.

These cases were first checked on the model alone, with stand-in wait entries playing the
sleeping threads, against observations recorded from Linux. Now that threads are part of the
protocol, each runs as a differential test: spawned threads sleep in ``epoll_wait(-1)`` on both
kernels, thread 0 writes, and every call -- each thread's state included -- must agree.
"""

from __future__ import annotations

from simulator.kernel import ModelKernel
from simulator.uapi import EPOLL_CTL_ADD, EPOLLET, EPOLLEXCLUSIVE, EPOLLIN
from tests.twin import Twin

ASLEEP = ("sleeping", "epoll_wait")
DONE = ("finished", "epoll_wait")


def _block_threads(twin: Twin, eps: list[int]) -> list[int]:
    """One spawned thread asleep in epoll_wait(-1) on each instance of `eps`, in order."""
    tids = []
    for ep in eps:
        tid = twin.spawn_thread()
        assert twin.start(tid, "epoll_wait", ep, 8, -1) is False
        tids.append(tid)
    return tids


def test_exclusive_wakes_one_blocked_instance_and_skips_the_rest_EP16(twin: Twin) -> None:
    # 4 epolls EXCLUSIVE on one socket, a thread blocked on each, one write -> 1 of 4 returns;
    # afterwards epoll_wait(0) per instance -> [1, 0, 0, 0].
    s, peer = twin.socketpair()
    eps = [twin.epoll_create() for _ in range(4)]
    for ep in eps:
        twin.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    tids = _block_threads(twin, eps)
    twin.send(peer, 1)
    assert [twin.thread_state(t) for t in tids] == [DONE, ASLEEP, ASLEEP, ASLEEP]
    assert [len(twin.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 0, 0, 0]


def test_exclusive_instances_without_sleepers_still_get_the_event_EP16(twin: Twin) -> None:
    # Only instance #2 blocked -> #0, #1 (no waiters, earlier in the queue) and #2 report; #3 is
    # never reached.
    s, peer = twin.socketpair()
    eps = [twin.epoll_create() for _ in range(4)]
    for ep in eps:
        twin.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    (tid,) = _block_threads(twin, eps[2:3])
    twin.send(peer, 1)
    assert twin.join(tid) == [(s, EPOLLIN)]
    assert [len(twin.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 1, 1, 0]


def test_a_non_exclusive_watcher_always_gets_it_and_does_not_stop_the_walk_EP16(
    twin: Twin,
) -> None:
    # Non-exclusive #0, exclusive #1 and #2 both blocked -> #0 and #1 get it.
    s, peer = twin.socketpair()
    eps = [twin.epoll_create() for _ in range(3)]
    twin.epoll_ctl(eps[0], EPOLL_CTL_ADD, s, EPOLLIN)
    for ep in eps[1:]:
        twin.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    tids = _block_threads(twin, eps[1:])
    twin.send(peer, 1)
    assert [twin.thread_state(t) for t in tids] == [DONE, ASLEEP]
    assert [len(twin.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 1, 0]


def test_one_callback_wakes_one_of_several_threads_on_one_epoll_EP11(twin: Twin) -> None:
    # ep_poll_callback wakes exactly one waiter on ep->wq (entries are exclusive); with ET
    # nothing is left on the ready list, so ep_done_scan wakes nobody else.
    s, peer = twin.socketpair()
    ep = twin.epoll_create()
    twin.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLET)
    tids = _block_threads(twin, [ep] * 4)
    twin.send(peer, 1)
    assert sorted(twin.thread_state(t) for t in tids) == [DONE, ASLEEP, ASLEEP, ASLEEP]
    model = twin.model
    assert isinstance(model, ModelKernel)
    assert len(model.epoll(ep).wq) == 3  # the other three still sleep on ep->wq
