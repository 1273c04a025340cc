"""The kernel's circular doubly linked list (``struct list_head``), instrumented.

eventpoll keeps its ready list (``ep->rdllist``) as a ``list_head``: a callback appends a ready
epitem in O(1) (``list_add_tail``), EPOLL_CTL_DEL unlinks one in O(1) (``list_del_init``), and
``ep_start_scan`` moves the whole list into a private batch in O(1) (``list_splice_init``) so
callbacks can keep running while events are copied out. This module is that list with:

* ``Cost.list_op`` charged once per operation (append, prepend, remove, pop, splice), always;
* a LIST_* `TraceEvent` per operation when tracing is on (``where`` is the list's name,
  ``detail`` is ``str(owner)`` of the node concerned);
* `DList._check`, verifying the links, the count and every node's membership.

As in the kernel, the list head is itself a node (a sentinel that is never yielded), and an
unlinked node points to itself (``INIT_LIST_HEAD``), so ``linked`` is one comparison, like
``list_empty(&epi->rdllink)`` in ``ep_is_linked``.

Unlike the kernel, a list refuses a node that is not on it instead of corrupting itself: each
node records which list it is on. Splicing must stay O(1), so a node does not point at its list
directly but at a membership record; a splice forwards the source's record to the
destination's (union-find, with path compression on lookup), and the source starts a new one.

>>> a, b = ListNode("A"), ListNode("B")
>>> rdllist: DList[str] = DList()
>>> rdllist.append(a); rdllist.append(b)
>>> list(rdllist), len(rdllist), a.linked
(['A', 'B'], 2, True)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from simulator.kernel.trace import TraceKind, Tracer

T = TypeVar("T")


class _Membership:
    """Which list a group of nodes is on: ``dlist`` if current, else ``forward`` to follow."""

    __slots__ = ("dlist", "forward")

    def __init__(self, dlist: DList[Any]) -> None:
        self.dlist = dlist
        self.forward: _Membership | None = None


class ListLinks(Generic[T]):
    """What a list node is, whoever lays it out: ``prev``, ``next``, ``owner`` and its
    membership record. `ListNode` is the ready-made node; a class that embeds the links
    itself (an epitem, which is also a wait-queue entry) declares the four slots in its own
    ``__slots__`` and sets them as `ListNode.__init__` does: one object less per item.
    """

    # No layout of its own: each subclass lays the links out in its slots (CPython allows one
    # base with slots per class, and an epitem's is its wait entry's). Hidden from the type
    # checker, which would otherwise count this empty layout as a second one.
    if not TYPE_CHECKING:
        __slots__ = ()

    owner: T
    prev: ListLinks[T]
    next: ListLinks[T]
    _home: _Membership | None

    @property
    def linked(self) -> bool:
        """True while the node is on a list (the negation of ``list_empty(node)``). O(1)."""
        return self.next is not self


class ListNode(ListLinks[T]):
    """A link embeddable in an owner object (``struct list_head`` inside an epitem).

    The kernel gets from the link back to the epitem with ``list_entry`` (``container_of``);
    here the node holds a reference to its ``owner``. A new node is unlinked: it points to
    itself, like ``INIT_LIST_HEAD``. A node is on at most one list at a time.

    >>> node = ListNode("epitem")
    >>> node.linked, node.next is node
    (False, True)
    """

    __slots__ = ("_home", "next", "owner", "prev")

    def __init__(self, owner: T) -> None:
        self.owner = owner
        self.prev = self
        self.next = self
        self._home = None

    def __repr__(self) -> str:
        return f"ListNode({self.owner!r})"


class DList(Generic[T]):
    """A circular doubly linked list with a head sentinel (``struct list_head`` used as a head).

    ``tracer`` receives ``list_op`` costs and, when enabled, LIST_* events (``where`` is
    ``name``). Iterating yields the owners, head to tail; the current node may be removed while
    iterating (the walk has already read its successor, as ``list_for_each_entry_safe``).

    >>> ready: DList[str] = DList(name="rdllist")
    >>> batch: DList[str] = DList(name="txlist")
    >>> for owner in "ABC":
    ...     ready.append(ListNode(owner))
    >>> ready.splice_init(batch)  # ep_start_scan
    >>> list(ready), list(batch)
    ([], ['A', 'B', 'C'])
    >>> node = batch.pop_front()
    >>> ready.append(node) if node else None  # an LT item goes back to the tail
    >>> batch.splice_init(ready, at_head=True)  # ep_done_scan: the remainder goes first
    >>> list(ready)
    ['B', 'C', 'A']
    """

    __slots__ = ("_head", "_home", "_len", "_tracer", "kind", "name")

    def __init__(self, tracer: Tracer | None = None, name: str = "rdllist") -> None:
        self._tracer = tracer
        self.name = name
        #: which list it is, whoever owns it (``rdllist`` of ``epoll4.rdllist``): trace events
        #: carry it, so a viewer tells the lists apart without parsing `name`
        self.kind = name.rpartition(".")[2]
        # The sentinel's owner is never seen: iteration stops at the head.
        self._head: ListLinks[Any] = ListNode(None)
        self._home = _Membership(self)
        self._len = 0

    # --- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of nodes. O(1) (the kernel would walk the list: ``list_count_nodes``)."""
        return self._len

    def __bool__(self) -> bool:
        """True if the list has nodes (``!list_empty(head)``). O(1)."""
        return self._len != 0

    def __iter__(self) -> Iterator[T]:
        """Yield the owners from head to tail. O(n) for the whole walk."""
        head = self._head
        node = head.next
        while node is not head:
            following = node.next
            yield node.owner
            node = following

    def first(self) -> ListLinks[T] | None:
        """The node at the head, or None when empty (``list_first_entry_or_null``). O(1)."""
        node = self._head.next
        return None if node is self._head else node

    def __contains__(self, node: object) -> bool:
        """True if ``node`` is a node (`ListLinks`) on this list. O(1) amortised."""
        return isinstance(node, ListLinks) and _list_of(node) is self

    # --- changing ------------------------------------------------------------------------

    def append(self, node: ListLinks[T]) -> None:
        """Link ``node`` at the tail (``list_add_tail``). O(1).

        Raises ValueError if the node is already on a list (the kernel would corrupt both).
        """
        if node.next is not node:
            raise ValueError(f"{node!r} is already on a list")
        head = self._head
        last = head.prev
        node.prev = last
        node.next = head
        last.next = node
        head.prev = node
        node._home = self._home
        self._len += 1
        self._charge(TraceKind.LIST_APPEND, node)

    def prepend(self, node: ListLinks[T]) -> None:
        """Link ``node`` at the head (``list_add``). O(1).

        Raises ValueError if the node is already on a list.
        """
        if node.next is not node:
            raise ValueError(f"{node!r} is already on a list")
        head = self._head
        first = head.next
        node.prev = head
        node.next = first
        first.prev = node
        head.next = node
        node._home = self._home
        self._len += 1
        self._charge(TraceKind.LIST_PREPEND, node)

    def remove(self, node: ListLinks[T]) -> None:
        """Unlink ``node`` and make it point to itself again (``list_del_init``). O(1) amortised.

        Raises ValueError if the node is not on this list.
        """
        if _list_of(node) is not self:
            raise ValueError(f"{node!r} is not on {self.name}")
        self._unlink(node)
        self._charge(TraceKind.LIST_REMOVE, node)

    def pop_front(self) -> ListLinks[T] | None:
        """Unlink and return the head node, or None when empty. O(1).

        The kernel spells this ``list_first_entry`` then ``list_del_init``; it is traced as one
        LIST_REMOVE.
        """
        node = self._head.next
        if node is self._head:
            return None
        self._unlink(node)
        self._charge(TraceKind.LIST_REMOVE, node)
        return node

    def splice_init(self, into: DList[T], at_head: bool = True) -> None:
        """Move every node of this list into ``into`` and leave this list empty. O(1).

        ``at_head`` puts them before ``into``'s nodes (``list_splice_init``), otherwise after
        them (``list_splice_tail_init``); their own order is kept. ``ep_start_scan`` moves the
        whole rdllist into the transfer batch this way, and ``ep_done_scan`` puts the batch's
        unprocessed remainder back at the head of rdllist. Charged and traced (LIST_SPLICE,
        ``where`` is this list, ``detail`` says how many nodes went where) even when empty,
        as the kernel's call still runs.
        """
        if into is self:
            raise ValueError(f"cannot splice {self.name} into itself")
        count = self._len
        if count:
            head = self._head
            first, last = head.next, head.prev
            target = into._head
            if at_head:
                before, after = target, target.next
            else:
                before, after = target.prev, target
            before.next = first
            first.prev = before
            last.next = after
            after.prev = last
            head.next = head.prev = head
            # The moved nodes still name this list's membership record: forward it to the
            # destination's and start a fresh one here, so no node has to be touched.
            self._home.forward = into._home
            self._home = _Membership(self)
            into._len += count
            self._len = 0
        tracer = self._tracer
        if tracer is not None:
            tracer.charge(
                TraceKind.LIST_SPLICE,
                self.name,
                1,
                "{e.count} to the {e.side} of {e.subject}",
                count=count,
                side="head" if at_head else "tail",
                list=self.kind,
                subject=into.name,
            )

    def _unlink(self, node: ListLinks[T]) -> None:
        """``__list_del_entry`` + ``INIT_LIST_HEAD``: the node points to itself again."""
        before, after = node.prev, node.next
        before.next = after
        after.prev = before
        node.prev = node.next = node
        node._home = None
        self._len -= 1

    def _charge(self, kind: TraceKind, node: ListLinks[T]) -> None:
        tracer = self._tracer
        if tracer is not None:
            if not tracer.enabled:  # the cost alone: no words to make
                tracer.charge(kind, self.name)
                return
            owner = node.owner
            fd = getattr(owner, "trace_fd", None)  # epitems and knotes say which fd they watch
            tracer.charge(
                kind,
                self.name,
                1,
                "{e.subject}",
                fd=fd if isinstance(fd, int) else None,
                list=self.kind,
                subject=str(owner),
            )

    # --- invariants ----------------------------------------------------------------------

    def _check(self) -> None:
        """Verify the list; raise AssertionError saying what broke. O(n).

        Checked: ``next``/``prev`` symmetry all the way round from the head, the count, that
        every node's membership resolves to this list, and that this list's own membership
        record is current.
        """
        home = self._home
        if home.forward is not None or home.dlist is not self:
            raise AssertionError(f"{self.name}: its membership record is not current")
        head = self._head
        count = 0
        node = head
        while True:
            following = node.next
            if following.prev is not node:
                raise AssertionError(
                    f"{self.name}: {node!r}.next is {following!r} whose prev is {following.prev!r}"
                )
            if following is head:
                break
            count += 1
            if count > self._len:
                raise AssertionError(
                    f"{self.name}: more than {self._len} nodes before the head comes round"
                )
            if _list_of(following) is not self:
                raise AssertionError(f"{self.name}: {following!r} thinks it is on another list")
            node = following
        if count != self._len:
            raise AssertionError(f"{self.name}: {count} nodes linked, length says {self._len}")


def _list_of(node: ListLinks[Any]) -> DList[Any] | None:
    """The list ``node`` is on, or None; compresses the membership path it follows."""
    home = node._home
    if home is None:
        return None
    if home.forward is None:
        return home.dlist
    root = home.forward
    while root.forward is not None:
        root = root.forward
    while home.forward is not None and home.forward is not root:
        home.forward, home = root, home.forward
    node._home = root
    return root.dlist
