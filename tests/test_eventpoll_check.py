"""`EventPoll._check` and the fuzzer's whole-model checks catch each broken rule: a sound
model passes, and each corruption (one rule broken by hand) is reported by name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator.kernel import ModelKernel
from simulator.kernel.eventpoll import EpItem, EventPoll
from simulator.kernel.waitqueue import WaitEntry
from simulator.uapi import EPOLL_CTL_ADD, EPOLLET, EPOLLEXCLUSIVE, EPOLLIN
from tests.test_fuzz_differential import DifferentialMachine, check_model
from tests.twin import Divergence


def _model() -> tuple[ModelKernel, EventPoll, EventPoll]:
    """Two sockets in an epoll (one ready, one EXCLUSIVE), that epoll inside another."""
    k = ModelKernel()
    a, b = k.socketpair()
    c, _d = k.socketpair()
    ep = k.epoll_create()
    k.epoll_ctl(ep, EPOLL_CTL_ADD, a, EPOLLIN | EPOLLET)
    k.epoll_ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN | EPOLLEXCLUSIVE)
    outer = k.epoll_create()
    k.epoll_ctl(outer, EPOLL_CTL_ADD, ep, EPOLLIN)
    k.send(b, 5)
    return k, k.epoll(ep), k.epoll(outer)


def test_a_sound_model_passes() -> None:
    k, ep, outer = _model()
    assert len(ep.rdllist) == 1 and len(outer.rdllist) == 1
    ep._check()
    outer._check()
    check_model(k)


def _foreign_item_on_the_ready_list(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    stray = EpItem(outer, ep.items()[1].file, 99, EPOLLIN)
    ep.rdllist.append(stray.rdllink)


def _wrong_key(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    ep.items()[0].fd = 42


def _off_its_files_list(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    epi = ep.items()[0]
    epi.file.f_ep = tuple(other for other in epi.file.f_ep if other is not epi)


def _wait_entry_dropped_from_the_target(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    epi = ep.items()[0]
    epi.file.wq.entries.remove(epi)  # the item is its own wait entry


def _exclusive_flag_lost(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    epi = next(epi for epi in ep.items() if epi.events & EPOLLEXCLUSIVE)
    epi.exclusive = False  # the item's wait entry


def _chained_without_a_transfer(k: ModelKernel, ep: EventPoll, outer: EventPoll) -> None:
    ep.items()[0].ovf_chained = True


CORRUPTIONS: list[tuple[Callable[[ModelKernel, EventPoll, EventPoll], None], str]] = [
    (_foreign_item_on_the_ready_list, "rdllist holds 2 items, 1 of them in the tree"),
    (_wrong_key, r"keyed \(\d+, \d+\), its \(file, fd\)"),
    (_off_its_files_list, "is not on its file's f_ep"),
    (_wait_entry_dropped_from_the_target, "has a wait entry off"),
    (_exclusive_flag_lost, "disagree on EXCLUSIVE"),
    (_chained_without_a_transfer, "no transfer running but"),
]


@pytest.mark.parametrize(
    ("corrupt", "message"), CORRUPTIONS, ids=[c.__name__.strip("_") for c, _ in CORRUPTIONS]
)
def test_each_broken_rule_of_an_epoll_is_named(
    corrupt: Callable[[ModelKernel, EventPoll, EventPoll], None], message: str
) -> None:
    k, ep, outer = _model()
    corrupt(k, ep, outer)
    with pytest.raises(AssertionError, match=message):
        ep._check()
    with pytest.raises(AssertionError):  # the fuzzer's check may see it from the file's side
        check_model(k)


def test_the_whole_model_check_counts_watches_and_leftover_wait_entries() -> None:
    k, _ep, _outer = _model()
    k.user_watches += 1
    with pytest.raises(AssertionError, match="user_watches 4, but 3 epitems exist"):
        check_model(k)
    k, _ep, _outer = _model()
    sock = k.file(3)
    assert sock is not None
    sock.wq.add(WaitEntry(lambda entry, key: True, "task", "poll"))  # as if poll forgot it
    with pytest.raises(AssertionError, match="poll outlived its call"):
        check_model(k)


def test_the_fuzzer_compares_interest_lists_with_proc_fdinfo() -> None:

    machine = DifferentialMachine()
    try:
        a, _b = machine.call("socketpair")
        ep = machine.call("epoll_create")
        machine.call("epoll_ctl", ep, EPOLL_CTL_ADD, a, EPOLLIN)
        machine.interest_lists_agree_with_proc()
        machine.model.epoll(ep).items()[0].events |= EPOLLET  # the model alone changes
        with pytest.raises(Divergence, match="differs from /proc fdinfo"):
            machine.interest_lists_agree_with_proc()
    finally:
        machine.teardown()
