"""The ready list (`simulator.kernel.dlist`) against plain Python lists.

Two lists share a pool of nodes, so moving nodes between lists (append, remove, splice) and
the refusal of nodes that belong elsewhere are exercised together; `DList._check` runs on
both after every step.
"""

from __future__ import annotations

import doctest
import random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from simulator.kernel import dlist
from simulator.kernel.dlist import DList, ListNode
from simulator.kernel.trace import TraceKind, Tracer

POOL = 8
node_ids = st.integers(min_value=0, max_value=POOL - 1)
list_ids = st.integers(min_value=0, max_value=1)


class ListMachine(RuleBasedStateMachine):
    """Operations on two DLists mirrored on two Python lists of owner ids."""

    def __init__(self) -> None:
        super().__init__()
        self.tracer = Tracer(enabled=True)
        self.lists: list[DList[int]] = [
            DList(self.tracer, name="rdllist"),
            DList(self.tracer, name="txlist"),
        ]
        self.models: list[list[int]] = [[], []]
        self.nodes = [ListNode(i) for i in range(POOL)]

    def _home(self, i: int) -> int | None:
        for which, model in enumerate(self.models):
            if i in model:
                return which
        return None

    def _list_ops(self) -> int:
        return self.tracer.cost.list_op

    @rule(i=node_ids, which=list_ids, at_head=st.booleans())
    def add(self, i: int, which: int, at_head: bool) -> None:
        lst, node, before = self.lists[which], self.nodes[i], self._list_ops()
        if self._home(i) is not None:
            with pytest.raises(ValueError, match="already on a list"):
                (lst.prepend if at_head else lst.append)(node)
            assert self._list_ops() == before
            return
        if at_head:
            lst.prepend(node)
            self.models[which].insert(0, i)
        else:
            lst.append(node)
            self.models[which].append(i)
        assert self._list_ops() == before + 1
        last = self.tracer.events[-1]
        kind = TraceKind.LIST_PREPEND if at_head else TraceKind.LIST_APPEND
        assert (last.kind, last.where, last.detail) == (kind, lst.name, str(i))

    @rule(i=node_ids, which=list_ids)
    def remove(self, i: int, which: int) -> None:
        lst, node, before = self.lists[which], self.nodes[i], self._list_ops()
        if self._home(i) != which:
            with pytest.raises(ValueError, match="not on"):
                lst.remove(node)
            assert self._list_ops() == before
            return
        lst.remove(node)
        self.models[which].remove(i)
        assert self._list_ops() == before + 1
        assert self.tracer.events[-1].kind is TraceKind.LIST_REMOVE

    @rule(which=list_ids)
    def pop_front(self, which: int) -> None:
        node = self.lists[which].pop_front()
        model = self.models[which]
        if not model:
            assert node is None
        else:
            assert node is self.nodes[model.pop(0)]

    @rule(source=list_ids, at_head=st.booleans())
    def splice(self, source: int, at_head: bool) -> None:
        target = 1 - source
        before = self._list_ops()
        self.lists[source].splice_init(self.lists[target], at_head=at_head)
        moved, self.models[source] = self.models[source], []
        if at_head:
            self.models[target][:0] = moved
        else:
            self.models[target].extend(moved)
        assert self._list_ops() == before + 1
        last = self.tracer.events[-1]
        assert (last.kind, last.where) == (TraceKind.LIST_SPLICE, self.lists[source].name)

    @invariant()
    def agrees_with_model(self) -> None:
        for lst, model in zip(self.lists, self.models, strict=True):
            lst._check()
            assert list(lst) == model
            assert len(lst) == len(model)
            assert bool(lst) == bool(model)
            first = lst.first()
            assert (first.owner if first else None) == (model[0] if model else None)
        for i, node in enumerate(self.nodes):
            home = self._home(i)
            assert node.linked == (home is not None)
            assert [node in lst for lst in self.lists] == [home == 0, home == 1]
            if home is None:
                assert node.next is node and node.prev is node


TestListMachine = ListMachine.TestCase
TestListMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


def test_seeded_epoll_wait_cycles_keep_memberships_right() -> None:
    """Many ep_start_scan/ep_done_scan rounds, which chain membership records the most."""
    rng = random.Random(7)
    tracer = Tracer(enabled=False)
    rdllist: DList[int] = DList(tracer, "rdllist")
    nodes = [ListNode(i) for i in range(30)]
    model: list[int] = []
    for _ in range(500):
        for node in rng.sample(nodes, 5):
            if not node.linked:
                rdllist.append(node)
                model.append(node.owner)
        txlist: DList[int] = DList(tracer, "txlist")
        rdllist.splice_init(txlist)  # ep_start_scan
        batch, model = model, []
        delivered = []
        for _ in range(rng.randrange(len(batch) + 1)):
            popped = txlist.pop_front()
            assert popped is not None
            delivered.append(popped.owner)
            if rng.random() < 0.5:  # level-triggered: back to the tail
                rdllist.append(popped)
                model.append(popped.owner)
        remainder = batch[len(delivered) :]
        txlist.splice_init(rdllist, at_head=True)  # ep_done_scan
        model = remainder + model
        for owner in rng.sample(model, min(2, len(model))):  # EPOLL_CTL_DEL of queued items
            rdllist.remove(nodes[owner])
            model.remove(owner)
        rdllist._check()
        txlist._check()
        assert list(rdllist) == model
        assert not txlist
    assert tracer.events == []
    assert tracer.cost.list_op > 0


def test_operations_charge_and_trace() -> None:
    tracer = Tracer()
    ready: DList[str] = DList(tracer, name="ep.rdllist")
    batch: DList[str] = DList(tracer, name="ep.txlist")
    a, b, c = ListNode("fd 4"), ListNode("fd 5"), ListNode("fd 6")
    ready.append(a)
    ready.append(b)
    ready.prepend(c)
    ready.remove(b)
    ready.splice_init(batch)
    assert batch.pop_front() is c
    batch.splice_init(ready, at_head=False)
    batch.splice_init(ready)  # empty now: still one (cheap) kernel call
    assert [(e.kind, e.where, e.detail) for e in tracer.events] == [
        (TraceKind.LIST_APPEND, "ep.rdllist", "fd 4"),
        (TraceKind.LIST_APPEND, "ep.rdllist", "fd 5"),
        (TraceKind.LIST_PREPEND, "ep.rdllist", "fd 6"),
        (TraceKind.LIST_REMOVE, "ep.rdllist", "fd 5"),
        (TraceKind.LIST_SPLICE, "ep.rdllist", "2 to the head of ep.txlist"),
        (TraceKind.LIST_REMOVE, "ep.txlist", "fd 6"),
        (TraceKind.LIST_SPLICE, "ep.txlist", "1 to the tail of ep.rdllist"),
        (TraceKind.LIST_SPLICE, "ep.txlist", "0 to the head of ep.rdllist"),
    ]
    assert tracer.cost.list_op == 8
    assert list(ready) == ["fd 4"] and list(batch) == []


def test_tracing_off_charges_without_events() -> None:
    tracer = Tracer(enabled=False)
    lst: DList[int] = DList(tracer)
    node = ListNode(1)
    lst.append(node)
    lst.remove(node)
    assert tracer.cost.list_op == 2
    assert tracer.events == []


def test_without_a_tracer_nothing_is_counted() -> None:
    lst: DList[int] = DList()
    lst.append(ListNode(1))
    assert lst.pop_front() is not None
    assert lst.pop_front() is None


def test_foreign_and_unlinked_nodes_are_refused_without_damage() -> None:
    mine: DList[str] = DList(name="mine")
    theirs: DList[str] = DList(name="theirs")
    ours, stranger, loose = ListNode("ours"), ListNode("stranger"), ListNode("loose")
    mine.append(ours)
    theirs.append(stranger)
    with pytest.raises(ValueError, match="not on mine"):
        mine.remove(stranger)
    with pytest.raises(ValueError, match="not on mine"):
        mine.remove(loose)
    with pytest.raises(ValueError, match="already on a list"):
        mine.append(stranger)
    with pytest.raises(ValueError, match="into itself"):
        mine.splice_init(mine)
    mine.remove(ours)
    with pytest.raises(ValueError, match="not on mine"):
        mine.remove(ours)  # list_del_init twice
    for lst in (mine, theirs):
        lst._check()
    assert list(mine) == [] and list(theirs) == ["stranger"]


def test_membership_follows_nodes_through_splices() -> None:
    a: DList[int] = DList(name="a")
    b: DList[int] = DList(name="b")
    c: DList[int] = DList(name="c")
    node = ListNode(1)
    a.append(node)
    a.splice_init(b)
    b.splice_init(c)
    assert node in c and node not in a and node not in b
    with pytest.raises(ValueError):
        a.remove(node)
    with pytest.raises(ValueError):
        b.remove(node)
    c.remove(node)
    assert not node.linked
    a.append(node)  # reusable after removal
    assert node in a
    for lst in (a, b, c):
        lst._check()


def test_a_lookup_shortens_the_forwarding_chain_for_every_node_sharing_it() -> None:
    """Splices stay O(1) by forwarding records; lookups must then keep the chains short."""
    a: DList[int] = DList(name="a")
    b: DList[int] = DList(name="b")
    first, second = ListNode(1), ListNode(2)
    a.append(first)
    a.append(second)
    for _ in range(50):
        a.splice_init(b)
        b.splice_init(a)
    shared = second._home
    assert shared is first._home and shared is not None
    assert first in a
    assert shared.forward is not None and shared.forward.forward is None
    assert second in a


def test_removing_the_current_node_while_iterating_is_safe() -> None:
    lst: DList[int] = DList()
    nodes = [ListNode(i) for i in range(5)]
    for node in nodes:
        lst.append(node)
    seen = []
    for owner in lst:
        seen.append(owner)
        if owner % 2 == 0:
            lst.remove(nodes[owner])
    assert seen == [0, 1, 2, 3, 4]
    assert list(lst) == [1, 3]
    lst._check()


def test_check_detects_corruption() -> None:
    def fresh() -> tuple[DList[int], list[ListNode[int]]]:
        lst: DList[int] = DList(name="rdllist")
        nodes = [ListNode(i) for i in range(3)]
        for node in nodes:
            lst.append(node)
        lst._check()
        return lst, nodes

    lst, nodes = fresh()
    nodes[1].prev = nodes[1]
    with pytest.raises(AssertionError, match="prev"):
        lst._check()

    lst, nodes = fresh()
    lst._len = 2
    with pytest.raises(AssertionError, match="more than 2 nodes"):
        lst._check()

    lst, nodes = fresh()
    lst._len = 4
    with pytest.raises(AssertionError, match="length says 4"):
        lst._check()

    lst, nodes = fresh()
    other: DList[int] = DList(name="other")
    nodes[2]._home = other._home
    with pytest.raises(AssertionError, match="another list"):
        lst._check()


def test_doctests() -> None:
    assert doctest.testmod(dlist).failed == 0
