"""Model-only tests of the wake-up rules that need threads blocked in epoll_wait.

The protocol is one thread making one call at a time, so no differential test can block a
thread in epoll_wait while another writes. These tests put stand-in sleepers -- the same
exclusive wait entries `epoll_wait` queues on ``ep->wq`` -- on the model's wait queues and
check the observations docs/kernel-spec.md records from the real kernel (EP-11, EP-16).
"""

from __future__ import annotations

from simulator.kernel import ModelKernel
from simulator.kernel.waitqueue import WaitEntry
from simulator.uapi import EPOLL_CTL_ADD, EPOLLET, EPOLLEXCLUSIVE, EPOLLIN


def _block_a_thread(k: ModelKernel, epfd: int, woken: list[int]) -> None:
    """Queue a sleeper on ``ep->wq`` as epoll_wait does (exclusive, autoremove on wake)."""
    ep = k.epoll(epfd)

    def wake(entry: WaitEntry, _key: int) -> bool:
        woken.append(epfd)
        ep.wq.remove(entry)
        return True

    ep.wq.add_exclusive(WaitEntry(wake, "task", f"thread on {epfd}"))


def test_exclusive_wakes_one_blocked_instance_and_skips_the_rest_EP16() -> None:
    # Verified on Linux: 4 epolls EXCLUSIVE on one socket, a thread blocked on each, one
    # write -> 1 of 4 returns; afterwards poll(0) per instance -> [1, 0, 0, 0].
    k = ModelKernel()
    s, peer = k.socketpair()
    eps = [k.epoll_create() for _ in range(4)]
    for ep in eps:
        k.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    woken: list[int] = []
    for ep in eps:
        _block_a_thread(k, ep, woken)
    k.send(peer, 1)
    assert woken == [eps[0]]
    assert [len(k.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 0, 0, 0]


def test_exclusive_instances_without_sleepers_still_get_the_event_EP16() -> None:
    # Verified: only instance #2 blocked -> #0, #1 (no waiters, earlier in the queue) and #2
    # report; #3 is never reached.
    k = ModelKernel()
    s, peer = k.socketpair()
    eps = [k.epoll_create() for _ in range(4)]
    for ep in eps:
        k.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    woken: list[int] = []
    _block_a_thread(k, eps[2], woken)
    k.send(peer, 1)
    assert woken == [eps[2]]
    assert [len(k.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 1, 1, 0]


def test_a_non_exclusive_watcher_always_gets_it_and_does_not_stop_the_walk_EP16() -> None:
    # Verified: non-exclusive #0, exclusive #1 and #2 both blocked -> #0 and #1 get it.
    k = ModelKernel()
    s, peer = k.socketpair()
    eps = [k.epoll_create() for _ in range(3)]
    k.epoll_ctl(eps[0], EPOLL_CTL_ADD, s, EPOLLIN)
    for ep in eps[1:]:
        k.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLEXCLUSIVE)
    woken: list[int] = []
    for ep in eps[1:]:
        _block_a_thread(k, ep, woken)
    k.send(peer, 1)
    assert woken == [eps[1]]
    assert [len(k.epoll_wait(ep, 8, 0)) for ep in eps] == [1, 1, 0]


def test_one_callback_wakes_one_of_several_threads_on_one_epoll_EP11() -> None:
    # ep_poll_callback wakes exactly one waiter on ep->wq (entries are exclusive).
    k = ModelKernel()
    s, peer = k.socketpair()
    ep = k.epoll_create()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN | EPOLLET)
    woken: list[int] = []
    for _ in range(4):
        _block_a_thread(k, ep, woken)
    k.send(peer, 1)
    assert woken == [ep]
    assert len(k.epoll(ep).wq) == 3  # the other three still sleep
