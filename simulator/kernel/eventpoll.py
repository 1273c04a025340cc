"""eventpoll: the model of ``fs/eventpoll.c``, to be read beside it.

One `EventPoll` per epoll instance, hanging off an anonymous ``[eventpoll]`` file:

* ``rbr`` -- the *interest list*: a red-black tree of `EpItem`, keyed by ``(file, fd)``
  (``ep_cmp_ffd``). ``epoll_ctl`` finds, inserts and erases here: O(log n).
* ``rdllist`` -- the *ready list*: a doubly linked list of epitems with pending events, fed by
  `ep_poll_callback`, which the target's wait queue calls from the wake-up path (for TCP: the
  NIC interrupt's softirq). ``epoll_wait`` only ever looks here: O(ready), not O(registered).
* ``ovflist`` -- where callbacks park items while ``ep_send_events`` owns ``rdllist``
  (None here stands for the kernel's ``EP_UNACTIVE_PTR``: no transfer running).
* ``wq`` -- threads sleeping in ``epoll_wait`` (exclusive entries: one wake-up, one thread);
  ``poll_wait`` -- whoever polls the epoll fd itself (another epoll, poll or select).

Ordering rules, flags and errors follow KERNEL_SPEC EP-1..EP-27; each method names the kernel
function it models.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable, Sequence

from simulator.kernel.dlist import DList, ListLinks
from simulator.kernel.rbtree import RBNode, RBTree
from simulator.kernel.trace import TraceKind
from simulator.kernel.vfs import FdTable, File, FileSystem, PollTable, oserror
from simulator.kernel.waitqueue import WaitEntry, WaitQueue
from simulator.uapi import (
    EP_PRIVATE_BITS,
    EPOLL_CTL_ADD,
    EPOLL_CTL_DEL,
    EPOLL_CTL_MOD,
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLEXCLUSIVE_OK_BITS,
    EPOLLHUP,
    EPOLLIN,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLRDNORM,
    EPOLLWAKEUP,
)

# The prose of its trace events, rendered from their fields when read.
_DISARMED = "fd {e.fd}: disarmed (ONESHOT)"
_NOT_WANTED = "fd {e.fd}: key {e.mask:#x} not wanted"

#: ``EP_MAX_NESTS``: levels of nesting allowed below the top epoll.
EP_MAX_NESTS = 4
#: Longest allowed chain of nested epoll instances, counted in instances (EP_MAX_NESTS + 1).
EP_MAX_CHAIN = EP_MAX_NESTS + 1
#: ``path_limits``: how many wake-up paths of each length may lead up from one watched file to
#: top-level epolls (index 0: paths through one epoll, which are not limited; 1: through two...).
PATH_LIMITS = (1000, 500, 100, 50, 10)


def ep_key(file_id: int, fd: int) -> int:
    """An interest-tree key: ``ep_cmp_ffd``'s order (the file, then the fd) in one int.

    A descriptor is below 2**31, so ``file << 32 | fd`` orders exactly as the pair does; an
    int is smaller than a pair (32 bytes against 56, a million times over) and compares
    faster. Trace events and views show the pair (`ep_key_shown`).
    """
    return file_id << 32 | fd


def ep_key_shown(key: int) -> tuple[int, int]:
    """An interest-tree key as viewers see it: ``(file identity, fd)``."""
    return (key >> 32, key & 0xFFFF_FFFF)


class EpItem(WaitEntry, ListLinks["EpItem"]):
    """``struct epitem``: one registration of one ``(file, fd)`` in one epoll.

    `events` is the stored mask (user mask | ERR | HUP; only private bits once a ONESHOT item
    fired), `data` the 64-bit user data (CPython always stores the fd number, so it is read
    from `fd`). `ovf_chained` says whether the item waits on ``ovflist`` (the kernel's
    ``epi->next != EP_UNACTIVE_PTR``; our ovflist is an oldest-first Python list that
    ``done_scan`` walks backwards, as the kernel walks its LIFO chain).

    One object is three of the kernel's here, because a million registrations make a million
    of each (memory and garbage-collector work):

    * the item *is* its ready-list link (``epi->rdllink``, embedded in the kernel's epitem
      too): `rdllink` is the item itself;
    * the item *is* its wait-queue entry (``struct eppoll_entry``, which the kernel allocates
      per wait queue the target's ->poll hooks it on, and chains on ``epi->pwqlist``): every
      file the model has polls on exactly one wait queue, so an item has at most one entry,
      and `pwqlist` is the item while it is hooked. Its `label` (``epoll4:fd7``) is made when
      read;
    * the item keeps its tree node's handle (`rbh`, 0 when not in the tree) and makes the
      node's view, `rbn`, when asked.
    """

    __slots__ = ("_home", "ep", "events", "fd", "file", "next", "ovf_chained", "prev", "rbh")

    owner: EpItem

    def __init__(self, ep: EventPoll, file: File, fd: int, events: int) -> None:
        # Every field set here, in one call: the list links (unlinked, as INIT_LIST_HEAD),
        # the wait entry (not queued; wakes ep_poll_callback), then the item.
        self.owner = self
        self.prev = self
        self.next = self
        self._home = None
        self.func = ep._callback
        self._label = ""
        self.exclusive = False
        self.queue = None
        self.ep = ep
        self.file = file
        self.fd = fd
        self.events = events
        self.ovf_chained = False
        self.rbh = 0  # the rbtree's nil handle: not in the tree

    @property
    def data(self) -> int:
        """The user data ``epoll_wait`` returns: CPython's ``select.epoll`` stores the fd."""
        return self.fd

    @property
    def rdllink(self) -> ListLinks[EpItem]:
        """The item's link on ``rdllist`` (``epi->rdllink``): the item itself."""
        return self

    @property
    def pwqlist(self) -> tuple[EpItem, ...]:
        """The wait entries the target's ->poll installed (``epi->pwqlist``): the item
        itself while it is hooked on a wait queue, else none."""
        return () if self.queue is None else (self,)

    @property
    def label(self) -> str:
        """Whose wait entry it is (``epoll4:fd7``), for the views and the trace."""
        return f"{self.ep.label}:fd{self.fd}"

    @property
    def rbn(self) -> RBNode[int, EpItem] | None:
        """The item's node in the interest tree (``epi->rbn``), or None once removed."""
        return self.ep.rbr.node_at(self.rbh) if self.rbh else None

    @property
    def key(self) -> tuple[int, int]:
        """The interest-tree key as viewers see it: (file identity, fd number)."""
        return (self.file.file_id, self.fd)

    @property
    def tree_key(self) -> int:
        """The interest-tree key as the tree holds it (`ep_key`)."""
        return ep_key(self.file.file_id, self.fd)

    @property
    def ready(self) -> bool:
        """Is the item on the ready list?"""
        return self.next is not self

    @property
    def trace_fd(self) -> int:
        """The descriptor its list micro-steps concern (`simulator.observe.TraceEvent.fd`)."""
        return self.fd

    def ep_ptable_queue_proc(self, _file: File, whead: WaitQueue) -> None:
        """``ep_ptable_queue_proc``: hook the item's wait entry on the target's wait queue
        (the kernel finds the item from the poll table with ``container_of``; here the poll
        table's queue proc is this method, bound to the item)."""
        if self.queue is not None:
            raise AssertionError(f"{self!r}: its file polls on a second wait queue")
        if self.events & EPOLLEXCLUSIVE:
            whead.add_exclusive(self, cost=1)
        else:
            whead.add(self, cost=1)

    def __repr__(self) -> str:
        return f"<epitem fd={self.fd} file={self.file.label} events={self.events:#x}>"


class EventPoll(File):
    """``struct eventpoll`` and the anonymous file it hangs off."""

    kind = "epoll"
    has_poll = True
    __slots__ = ("_callback", "_watches", "ovflist", "poll_wait", "rbr", "rdllist")

    def __init__(self, fs: FileSystem, label: str, watches: Callable[[int], None]) -> None:
        super().__init__(fs, label)
        tracer = fs.tracer
        self.rbr: RBTree[int, EpItem] = RBTree(tracer, f"{label}.rbr", ep_key_shown)
        self.rdllist: DList[EpItem] = DList(tracer, f"{label}.rdllist")
        self.ovflist: list[EpItem] | None = None
        # File.wq is where ->poll registers; for an epoll that is ep->poll_wait.
        self.poll_wait = self.wq
        self.poll_wait.name = f"{label}.poll_wait"
        self.wq = WaitQueue(tracer, f"{label}.wq")
        self._watches = watches  # charges the per-user watch quota (+1/-1)
        # One bound method for every eppoll_entry of this instance, not one each.
        self._callback = self.ep_poll_callback

    # -- lookups -------------------------------------------------------------------------------
    def ep_find(self, file: File, fd: int) -> EpItem | None:
        """``ep_find``: O(log n) descent of the interest tree."""
        node = self.rbr.find(file.file_id << 32 | fd)  # ep_key, inline: a call per ADD less
        return None if node is None else node.value

    def items(self) -> list[EpItem]:
        """Every epitem, in tree (key) order -- the order of /proc/<pid>/fdinfo/<epfd>."""
        return [node.value for node in self.rbr]

    # -- the callback --------------------------------------------------------------------------
    def ep_poll_callback(self, entry: WaitEntry, key: int) -> bool:
        """``ep_poll_callback``: queue the item on the ready list and wake a waiter (EP-4)."""
        epi: EpItem = entry.owner  # type: ignore[assignment]
        tracer = self.fs.tracer
        if not epi.events & ~EP_PRIVATE_BITS:
            tracer.charge(TraceKind.CALLBACK, self.label, 0, _DISARMED, fd=epi.fd)
            return False
        if key and not key & epi.events:
            tracer.charge(TraceKind.CALLBACK, self.label, 0, _NOT_WANTED, fd=epi.fd, mask=key)
            return False
        if self.ovflist is not None:
            if not epi.ovf_chained:
                epi.ovf_chained = True
                self.ovflist.append(epi)
                tracer.charge(
                    TraceKind.LIST_APPEND,
                    f"{self.label}.ovflist",
                    0,
                    "fd {e.fd}",
                    fd=epi.fd,
                    list="ovflist",
                )
        elif not epi.linked:
            self.rdllist.append(epi)
        ewake = False
        if self.wq:
            if epi.events & EPOLLEXCLUSIVE:
                inout = key & (EPOLLIN | EPOLLOUT)
                if inout == EPOLLIN:
                    ewake = bool(epi.events & EPOLLIN)
                elif inout == EPOLLOUT:
                    ewake = bool(epi.events & EPOLLOUT)
                elif inout == 0:
                    ewake = True
            self.wq.wake_up(0)
        if self.poll_wait:
            self.ep_poll_safewake()
        if not epi.events & EPOLLEXCLUSIVE:
            ewake = True
        return ewake

    def ep_poll_safewake(self) -> None:
        """Tell whoever polls this epoll fd that it may be readable (readiness climbs a nest)."""
        self.poll_wait.wake_up(EPOLLIN)

    def ep_item_poll(self, epi: EpItem, pt: PollTable | None, depth: int = 1) -> int:
        """``ep_item_poll``: the target's current readiness, masked by what the item wants."""
        tracer = self.fs.tracer
        if tracer.enabled:  # an event without cost: nothing to do with tracing off
            tracer.charge(TraceKind.FILE_POLL, epi.file.label, 0, "fd {e.fd}", fd=epi.fd)
        if isinstance(epi.file, EventPoll):
            mask = epi.file.eventpoll_poll(pt, depth)
        else:
            mask = epi.file.poll(pt)
        return mask & epi.events

    # -- epoll_ctl -----------------------------------------------------------------------------
    def insert(
        self, events: int, file: File, fd: int, path_check: Iterable[File] | None = None
    ) -> None:
        """``ep_insert``: new epitem into the tree, hooked on the target, queued if ready.

        `path_check` (None: no full check) lists the files whose wake-up paths the new link
        may multiply; too many paths undo the insert with EINVAL (``reverse_path_check``).
        """
        self._watches(+1)  # raises ENOSPC past max_user_watches, before anything is allocated
        epi = EpItem(self, file, fd, events)
        file.f_ep += (epi,)
        epi.rbh = self.rbr.insert(file.file_id << 32 | fd, epi).handle  # ep_key, inline
        if path_check is not None and reverse_path_check(path_check):
            self.remove(epi)
            raise oserror(errno.EINVAL)
        # ep_pqueue: the poll table whose queue proc knows the item (a bound method: one
        # small allocation, where a closure would make a function and two cells per ADD).
        revents = self.ep_item_poll(epi, PollTable(epi.ep_ptable_queue_proc, events))
        if revents and not epi.linked:
            self.rdllist.append(epi)
            if self.wq:
                self.wq.wake_up(0)
            if self.poll_wait:
                self.ep_poll_safewake()

    def modify(self, epi: EpItem, events: int) -> None:
        """``ep_modify``: new mask, then re-poll: ready and unlinked -> tail of the ready list."""
        epi.events = events
        if self.ep_item_poll(epi, None) and not epi.linked:
            self.rdllist.append(epi)
            if self.wq:
                self.wq.wake_up(0)
            if self.poll_wait:
                self.ep_poll_safewake()

    def remove(self, epi: EpItem) -> None:
        """``ep_remove``: unhook from the target, the file's list, the tree and the ready list."""
        if epi.queue is not None:  # ep_unregister_pollwait
            epi.queue.remove(epi, cost=1)
        file = epi.file
        file.f_ep = tuple(other for other in file.f_ep if other is not epi)
        node = epi.rbn
        assert node is not None
        self.rbr.erase(node)
        epi.rbh = 0
        if epi.linked:
            self.rdllist.remove(epi)
        if epi.ovf_chained and self.ovflist is not None:
            self.ovflist.remove(epi)
            epi.ovf_chained = False
        self._watches(-1)

    # -- the transfer --------------------------------------------------------------------------
    def start_scan(self) -> DList[EpItem]:
        """``ep_start_scan``: take the whole ready list; callbacks now go to ``ovflist``."""
        txlist: DList[EpItem] = DList(self.fs.tracer, f"{self.label}.txlist")
        self.rdllist.splice_init(txlist, at_head=True)
        self.ovflist = []
        return txlist

    def done_scan(self, txlist: DList[EpItem]) -> None:
        """``ep_done_scan``: ovflist arrivals to the head (LIFO reversed into FIFO), then the
        unprocessed remainder of the batch in front of them; wake the next waiter if any."""
        assert self.ovflist is not None
        for epi in reversed(self.ovflist):  # the kernel walks its LIFO chain newest first
            epi.ovf_chained = False
            if not epi.linked:
                self.rdllist.prepend(epi)
        self.ovflist = None
        txlist.splice_init(self.rdllist, at_head=True)
        if self.rdllist and self.wq:
            self.wq.wake_up(0)

    def send_events(self, maxevents: int) -> list[tuple[int, int]]:
        """``ep_send_events``: re-poll each ready item, copy out, re-queue LT, disarm ONESHOT."""
        tracer = self.fs.tracer
        out: list[tuple[int, int]] = []
        txlist = self.start_scan()
        while txlist and len(out) < maxevents:
            node = txlist.first()
            assert node is not None
            epi = node.owner
            txlist.remove(node)
            revents = self.ep_item_poll(epi, None)
            if not revents:
                continue  # no longer ready: dropped until a callback queues it again
            out.append((epi.data, revents))
            tracer.charge(
                TraceKind.COPY_OUT,
                self.label,
                1,
                "fd {e.fd}: {e.mask:#x}",
                fd=epi.data,
                mask=revents,
            )
            if epi.events & EPOLLONESHOT:
                epi.events &= EP_PRIVATE_BITS
            elif not epi.events & EPOLLET:
                self.rdllist.append(epi)
        self.done_scan(txlist)
        return out

    def eventpoll_poll(self, pt: PollTable | None, depth: int = 0) -> int:
        """``__ep_eventpoll_poll``: readable if any queued item is really ready; never OUT.

        Items found not ready are dropped from the ready list, but nothing is *consumed*: ET
        items stay queued (EP-12).
        """
        if pt is not None and pt.queue_proc is not None:
            pt.queue_proc(self, self.poll_wait)
        res = 0
        txlist = self.start_scan()
        for epi in list(txlist):
            if self.ep_item_poll(epi, None, depth + 1):
                res = EPOLLIN | EPOLLRDNORM
                break
            txlist.remove(epi)
        self.done_scan(txlist)
        return res

    def poll(self, pt: PollTable | None) -> int:
        return self.eventpoll_poll(pt)

    def release(self) -> None:
        """``ep_clear_and_put``: wake pollers of this fd, then drop every registration."""
        if self.poll_wait:
            self.ep_poll_safewake()
        for epi in self.items():
            self.remove(epi)

    # -- nesting -------------------------------------------------------------------------------
    def watched_epolls(self) -> list[EventPoll]:
        """Epoll instances this one watches directly."""
        return [epi.file for epi in self.items() if isinstance(epi.file, EventPoll)]

    def watching_epolls(self) -> list[EventPoll]:
        """Epoll instances that watch this one directly."""
        return [epi.ep for epi in self.f_ep]

    def depth_down(self) -> int:
        """Instances in the longest chain starting here and going into watched epolls."""
        return 1 + max((ep.depth_down() for ep in self.watched_epolls()), default=0)

    def depth_up(self) -> int:
        """Instances in the longest chain ending here, coming from watching epolls."""
        return 1 + max((ep.depth_up() for ep in self.watching_epolls()), default=0)

    def reaches(self, target: EventPoll) -> bool:
        """Is `target` reachable by following watched epolls from here (or is it us)?"""
        if self is target:
            return True
        return any(ep.reaches(target) for ep in self.watched_epolls())

    def loop_check(self, to: EventPoll) -> bool:
        """``ep_loop_check``: would watching `to` close a cycle or exceed the nesting limit?"""
        if to.reaches(self):
            return True
        return self.depth_up() + to.depth_down() > EP_MAX_CHAIN

    def nested_files(self) -> list[File]:
        """The non-epoll files watched here or in any epoll below: the leaves that
        ``ep_loop_check_proc`` lists for `reverse_path_check`."""
        files: dict[int, File] = {}
        seen: set[int] = set()
        todo: list[EventPoll] = [self]
        while todo:
            ep = todo.pop()
            if ep.file_id in seen:
                continue
            seen.add(ep.file_id)
            for epi in ep.items():
                if isinstance(epi.file, EventPoll):
                    todo.append(epi.file)
                else:
                    files.setdefault(epi.file.file_id, epi.file)
        return list(files.values())

    # -- invariants ----------------------------------------------------------------------------
    def _check(self) -> None:
        """Verify the instance's invariants; raise AssertionError saying which one broke. O(n).

        The rules ``fs/eventpoll.c`` keeps under ep->mtx and ep->lock, checked between calls:

        * the interest tree and the ready list keep their own (`RBTree._check`, `DList._check`);
        * every epitem in the tree belongs to this instance, is keyed by its ``(file, fd)``
          (``ep_cmp_ffd``), knows its own node, and its file is open and lists it in ``f_ep``
          (what ``eventpoll_release_file`` walks);
        * the ready list holds exactly the tree's items whose ``rdllink`` is linked: nothing
          foreign, nothing removed;
        * ``ovflist`` is inactive (``EP_UNACTIVE_PTR``) outside a transfer and no item is
          chained on it; during one, it holds exactly the chained items, once each;
        * each item's ``pwqlist`` entries are its own, wake ``ep_poll_callback``, are exclusive
          exactly when the item is (EPOLLEXCLUSIVE), and are queued on the target's poll head;
          every entry of this instance on that head is in the item's ``pwqlist``;
        * every entry on ``wq`` and ``poll_wait`` is queued there.

        The per-user watch count spans every instance, so `ModelKernel` users check it.
        """
        name = self.label
        self.rbr._check()
        self.rdllist._check()
        items = self.items()
        linked = 0
        for node in self.rbr:
            epi = node.value
            if epi.ep is not self:
                raise AssertionError(f"{name}: {epi!r} in the tree belongs to {epi.ep.label}")
            if node.key != epi.tree_key:
                raise AssertionError(
                    f"{name}: {epi!r} keyed {ep_key_shown(node.key)}, its (file, fd) {epi.key}"
                )
            if epi.rbn != node:
                raise AssertionError(f"{name}: {epi!r} does not know its tree node")
            if epi.file.released or epi not in epi.file.f_ep:
                raise AssertionError(
                    f"{name}: {epi!r} is not on its file's f_ep (or the file died)"
                )
            on_ready = epi.rdllink in self.rdllist
            if epi.rdllink.linked and not on_ready and self.ovflist is None:
                raise AssertionError(f"{name}: {epi!r} is linked on a list that is not rdllist")
            linked += on_ready
            self._check_wait_entries(epi)
        if linked != len(self.rdllist):
            raise AssertionError(
                f"{name}: rdllist holds {len(self.rdllist)} items, {linked} of them in the tree"
            )
        chained = [epi for epi in items if epi.ovf_chained]
        if self.ovflist is None:
            if chained:
                raise AssertionError(f"{name}: no transfer running but {chained} are chained")
        elif len(self.ovflist) != len({id(epi) for epi in self.ovflist}) or {
            id(epi) for epi in self.ovflist
        } != {id(epi) for epi in chained}:
            raise AssertionError(f"{name}: ovflist {self.ovflist} is not the chained {chained}")
        for queue in (self.wq, self.poll_wait):
            if any(entry.queue is not queue for entry in queue.entries):
                raise AssertionError(f"{name}: {queue.name} holds an entry queued elsewhere")

    def _check_wait_entries(self, epi: EpItem) -> None:
        """The eppoll_entry rules of `_check` for one item."""
        head = _poll_head(epi.file)
        for entry in epi.pwqlist:
            if entry.owner is not epi or entry.func != self.ep_poll_callback:
                raise AssertionError(f"{self.label}: {epi!r} holds another's wait entry")
            if entry.exclusive != bool(epi.events & EPOLLEXCLUSIVE):
                raise AssertionError(
                    f"{self.label}: {epi!r} and its wait entry disagree on EXCLUSIVE"
                )
            if entry.queue is not head or entry not in head.entries:
                raise AssertionError(f"{self.label}: {epi!r} has a wait entry off {head.name}")
        ours = [entry for entry in head.entries if entry.owner is epi]
        if len(ours) != len(epi.pwqlist):
            raise AssertionError(
                f"{self.label}: {head.name} holds {len(ours)} entries of {epi!r}, "
                f"its pwqlist {len(epi.pwqlist)}"
            )


def _poll_head(file: File) -> WaitQueue:
    """The wait queue a file's ->poll hooks pollers on: ``ep->poll_wait`` for an epoll,
    ``kq->kq_sel`` for a kqueue, the file's own ``wq`` otherwise."""
    for attribute in ("poll_wait", "kq_sel"):
        head = getattr(file, attribute, None)
        if isinstance(head, WaitQueue):
            return head
    return file.wq


def reverse_path_check(files: Iterable[File]) -> bool:
    """``reverse_path_check``: does any of `files` have too many wake-up paths?

    A path runs from the file up through the epolls watching it to an epoll nobody watches;
    each wake-up of the file is repeated along every path, so their number is capped per
    length (`PATH_LIMITS`). Counted afresh for each file, new link included.
    """
    return any(_too_many_paths(file.f_ep, 0, [0] * len(PATH_LIMITS)) for file in files)


def _too_many_paths(refs: Sequence[EpItem], depth: int, counts: list[int]) -> bool:
    """``reverse_path_check_proc``: walk up from `refs`, counting paths by length."""
    if depth > EP_MAX_NESTS:
        return True
    for epi in refs:
        watchers = epi.ep.f_ep
        if watchers:
            if _too_many_paths(watchers, depth + 1, counts):
                return True
        elif depth:  # path_count_inc: any number of direct watchers is fine
            counts[depth] += 1
            if counts[depth] > PATH_LIMITS[depth]:
                return True
    return False


#: Bits ``do_epoll_ctl`` ORs into every ADD/MOD mask (EP-18).
ALWAYS_MONITORED = EPOLLERR | EPOLLHUP


def do_epoll_ctl(fdt: FdTable, epfd: int, op: int, fd: int, events: int) -> None:
    """``do_epoll_ctl``: the checks in the kernel's order (EP-25), then insert/remove/modify."""
    epfile = fdt.get(epfd)  # EBADF
    tfile = fdt.get(fd)  # EBADF
    if not tfile.has_poll:
        raise oserror(errno.EPERM)  # regular files cannot be watched
    has_event = op != EPOLL_CTL_DEL
    if has_event:
        # ep_take_care_of_epollwakeup: stripped, the reference kernel lacks CONFIG_PM_SLEEP (EP-23).
        events &= ~EPOLLWAKEUP
    if epfile is tfile or not isinstance(epfile, EventPoll):
        raise oserror(errno.EINVAL)
    if has_event and events & EPOLLEXCLUSIVE:
        if op == EPOLL_CTL_MOD:
            raise oserror(errno.EINVAL)
        if op == EPOLL_CTL_ADD and (
            isinstance(tfile, EventPoll) or events & ~EPOLLEXCLUSIVE_OK_BITS
        ):
            raise oserror(errno.EINVAL)
    ep = epfile
    # ep_ctl_lock: an ADD that nests epolls, or adds below an epoll that is itself watched,
    # gets the full check -- loops and depth now, wake-up paths once the item is linked.
    path_check: list[File] | None = None
    if op == EPOLL_CTL_ADD and (ep.f_ep or isinstance(tfile, EventPoll)):
        if isinstance(tfile, EventPoll):
            if ep.loop_check(tfile):
                raise oserror(errno.ELOOP)
            path_check = tfile.nested_files()
        else:
            path_check = [tfile]
    epi = ep.ep_find(tfile, fd)
    if op == EPOLL_CTL_ADD:
        if epi is not None:
            raise oserror(errno.EEXIST)
        ep.insert(events | ALWAYS_MONITORED, tfile, fd, path_check)
    elif op == EPOLL_CTL_DEL:
        if epi is None:
            raise oserror(errno.ENOENT)
        ep.remove(epi)
    elif op == EPOLL_CTL_MOD:
        if epi is None:
            raise oserror(errno.ENOENT)
        if epi.events & EPOLLEXCLUSIVE:
            raise oserror(errno.EINVAL)
        ep.modify(epi, events | ALWAYS_MONITORED)
    else:
        raise oserror(errno.EINVAL)
