"""The red-black tree behind eventpoll's interest list (``ep->rbr``), instrumented.

The kernel keeps every epitem of an epoll instance in a red-black tree keyed by
``(struct file *, fd)`` (``ep_cmp_ffd``), so EPOLL_CTL_ADD/MOD/DEL find their item in
O(log n) however many descriptors are watched. This module is that tree (``lib/rbtree.c``,
``include/linux/rbtree.h``) in Python, with three additions an educational model needs:

* every key comparison is charged to ``Cost.tree_compare`` (always, even with tracing off, so
  complexity lessons can count work in bulk runs);
* when tracing is on, every visited node, insertion, erasure, rotation and recolouring is
  recorded as a `TraceEvent` the TUI can animate;
* `RBTree._check` verifies every red-black invariant, for the property tests.

Why the nodes live in flat arrays
---------------------------------
The complexity lab inserts a million keys. With one Python object per node, CPython's cyclic
garbage collector walks every node in each full collection, and those collections alone made
building the tree twice as slow as the tree's own work. So a node is an int *handle*, an index
into parallel sequences owned by the tree: ``_key`` and ``_value`` (lists, since they hold any
object), ``_left``, ``_right`` and ``_parent`` (``array('i')`` of handles) and ``_red`` (a
``bytearray``). A million nodes are then a handful of containers, and the arrays are not
even tracked by the collector.

The links are arrays rather than lists of ints because a list holds pointers to int objects:
following a link would read the list, then the int object somewhere else in memory, then the
key. An array stores the numbers themselves, which saves one cache miss per level of the
descent (measured: a million random inserts take about a fifth less time than with lists).

The layout has a price, measured on a million random int keys (CPython 3.11): with the
collector paused, one object per node builds the tree ~1.5x faster than these arrays (a
node's fields share a cache line there, and reading an array element makes a new int); with
the collector on, as programs run, the arrays are ~1.45x faster (4.3 s against 6.3 s).

Handle 0 is the nil sentinel (the kernel's ``NULL``): black, no key, no children, never
written, so "is the uncle red?" needs no None check. Erased handles go on a free list and are
reused first, as a slab cache reuses freed objects; handles never used yet are counted, not
listed (`_fresh`); the arrays grow by half at a time and never shrink. A free handle is kept
ready for reuse: no key, no children, no parent, red (what ``rb_link_node`` +
``rb_insert_color`` start from).

`RBTree.insert`, `RBTree.find`, iteration and the other readers return `RBNode` views: small
objects naming a handle that read the arrays on demand. (A caller that keeps a node per item,
like eventpoll's epitems, may keep its handle, `RBNode.handle`, and make a view with
`RBTree.node_at` when it needs one: a million views are 56 MB.) A view
remembers the *generation* of its handle, bumped on every erase, so a view of an erased node
stays erased even after its handle is reused (its ``parent`` is itself, the kernel's
``RB_CLEAR_NODE``), and erasing it twice is caught instead of erasing a stranger. Two views of
the same node compare equal (``==``) but need not be the same object (``is``). Like
``struct rb_root_cached``, the tree remembers its leftmost node, which makes `RBTree.first`
O(1).

Keys only need ``<`` (a total order); eventpoll uses ``(file_id, fd)`` tuples.

The insertion path is written for speed: no per-node method calls in the descent, the arrays in
local variables, one comparison per level, the tracing check taken once per call, and costs
added once per call from a local counter.

>>> tree: RBTree[int, str] = RBTree()
>>> for k in (5, 2, 8, 1):
...     _ = tree.insert(k, str(k))
>>> list(tree.keys()), len(tree), tree.root.key if tree.root else None
([1, 2, 5, 8], 4, 5)
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar, cast

from simulator.kernel.trace import TraceKind, Tracer
from simulator.observe import Key


class SupportsLessThan(Protocol):
    """A key type: anything totally ordered by ``<`` (ints, strings, tuples of those)."""

    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=SupportsLessThan)
V = TypeVar("V")

#: The nil sentinel: the handle of every absent child and of the root's parent.
NIL = 0

#: Handles added per growth of the node arrays, at least (then half the current capacity).
_MIN_GROWTH = 16

#: One nil link, repeated to grow the link arrays.
_NIL_LINKS = array("i", [NIL])


class RBNode(Generic[K, V]):
    """A view of one tree node (the kernel's ``struct rb_node`` plus its key and value).

    In the kernel the node is embedded in the epitem (``epi->rbn``) and the key is read back
    through ``container_of``; here the view names a slot of its tree's arrays, which hold the
    key and value. ``key``, ``value``, ``red``, ``left``, ``right`` and ``parent`` read the
    tree as it is now; only `RBTree` changes it. Views are made by the tree, never directly.

    Once the node is erased, ``parent`` is the node itself (``RB_CLEAR_NODE``), ``left`` and
    ``right`` are None, and reading ``key``, ``value`` or ``red`` raises ValueError: the slot
    may already hold another node.
    """

    __slots__ = ("_gen", "_handle", "_tree")

    def __init__(self, tree: RBTree[K, V], handle: int, gen: int) -> None:
        self._tree = tree
        self._handle = handle
        self._gen = gen

    @property
    def handle(self) -> int:
        """The node's slot in its tree (`RBTree.node_at` makes a view of it again). O(1)."""
        return self._handle

    @property
    def erased(self) -> bool:
        """Has the node been erased from its tree? O(1)."""
        return self._tree._gen[self._handle] != self._gen

    @property
    def key(self) -> K:
        """The node's key."""
        return self._tree._key[self._live()]  # type: ignore[no-any-return]

    @property
    def value(self) -> V:
        """The value stored with the key (eventpoll: the epitem)."""
        return self._tree._value[self._live()]  # type: ignore[no-any-return]

    @property
    def red(self) -> bool:
        """Is the node red (else black)?"""
        return bool(self._tree._red[self._live()])

    @property
    def left(self) -> RBNode[K, V] | None:
        """The left child, or None."""
        return None if self.erased else self._tree._view(self._tree._left[self._handle])

    @property
    def right(self) -> RBNode[K, V] | None:
        """The right child, or None."""
        return None if self.erased else self._tree._view(self._tree._right[self._handle])

    @property
    def parent(self) -> RBNode[K, V] | None:
        """The parent, None for the root, the node itself once erased (``RB_CLEAR_NODE``)."""
        return self if self.erased else self._tree._view(self._tree._parent[self._handle])

    def _live(self) -> int:
        """The handle, after checking that it still holds this node."""
        if self.erased:
            raise ValueError(f"this node was erased from {self._tree.name}")
        return self._handle

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RBNode)
            and other._tree is self._tree
            and other._handle == self._handle
            and other._gen == self._gen
        )

    def __hash__(self) -> int:
        return hash((id(self._tree), self._handle, self._gen))

    def __repr__(self) -> str:
        if self.erased:
            return f"RBNode(<erased from {self._tree.name}>)"
        return f"RBNode({self.key!r}, {_colour(self.red)})"


def _colour(red: bool) -> str:
    return "red" if red else "black"


# The prose of the tree's trace events, rendered from their fields when read.
_KEY = "{e.key!r}"
_ROTATE = "{e.side} at {e.key!r}"
_RECOLOR = "{e.key!r} {e.colour}"


def _key(key: object) -> Key:
    """A key as trace events carry it: epoll's tree keys are ``(file, fd)`` (`Key`); the
    tests' trees use other orderable keys, which the events carry as they are."""
    return cast(Key, key)


class RBTree(Generic[K, V]):
    """A red-black tree of unique keys (``struct rb_root_cached`` with eventpoll's usage).

    ``tracer`` receives the cost of every operation and, when ``tracer.enabled``, its trace
    events (``where`` is ``name``). Without a tracer nothing is counted.

    Mutating the tree while iterating over it is not supported, as in the kernel, where the
    walk and the changes are serialised by ``ep->mtx``.

    >>> tree: RBTree[tuple[int, int], str] = RBTree()
    >>> node = tree.insert((7, 3), "epitem for fd 3")
    >>> tree.find((7, 3)) == node, tree.find((7, 4))
    (True, None)
    >>> tree.erase(node)
    >>> len(tree), tree.root, node.erased
    (0, None, True)
    """

    __slots__ = (
        "_free",
        "_fresh",
        "_gen",
        "_key",
        "_left",
        "_leftmost",
        "_miss",
        "_parent",
        "_red",
        "_right",
        "_root",
        "_size",
        "_tracer",
        "_value",
        "name",
        "shown",
    )

    def __init__(
        self,
        tracer: Tracer | None = None,
        name: str = "rbr",
        shown: Callable[[Any], Key] | None = None,
    ) -> None:
        self._tracer = tracer
        self.name = name
        #: How trace events show a key (None: as it is). eventpoll packs ``(file, fd)`` in one
        #: int, which is smaller and compares faster, and shows it as the pair.
        self.shown = shown
        # The node arrays, indexed by handle; index 0 is the nil sentinel. Keys and values are
        # Any because the sentinel and free handles hold None.
        self._key: list[Any] = [None]
        self._value: list[Any] = [None]
        self._left = array("i", [NIL])
        self._right = array("i", [NIL])
        self._parent = array("i", [NIL])
        self._red = bytearray([False])
        self._gen: list[int] = [0]  # bumped on erase, so stale views can tell
        self._free: list[int] = []  # erased handles ready for reuse, the next one last
        self._fresh = 1  # the lowest handle never used: it and all above it are free too
        self._root = NIL
        self._leftmost = NIL  # rb_root_cached.rb_leftmost
        # Where the last `find` of an absent key ended, until the tree next changes: (key,
        # parent, went right at, nodes visited, and if traced the keys compared and the sides
        # taken). See `insert`.
        self._miss: tuple[Any, int, int, int, list[Any] | None, list[str] | None] | None = None
        self._size = 0

    def _view(self, handle: int) -> RBNode[K, V] | None:
        """A view of ``handle``, or None for the sentinel."""
        return RBNode(self, handle, self._gen[handle]) if handle else None

    # --- reading -------------------------------------------------------------------------

    def node_at(self, handle: int) -> RBNode[K, V]:
        """A view of the node in slot `handle` (from `RBNode.handle`), which must be in the
        tree: a caller that keeps handles instead of views keeps one object less per node.
        O(1)."""
        if not 0 < handle < len(self._key) or self._key[handle] is None:
            raise ValueError(f"no node at handle {handle} in {self.name}")
        return RBNode(self, handle, self._gen[handle])

    @property
    def root(self) -> RBNode[K, V] | None:
        """The root node, or None when the tree is empty. O(1)."""
        return self._view(self._root)

    def __len__(self) -> int:
        """Number of nodes. O(1)."""
        return self._size

    def __iter__(self) -> Iterator[RBNode[K, V]]:
        """Yield the nodes in key order (``rb_first`` then ``rb_next``).

        O(n) for the whole walk, O(1) amortised per node; it follows parent pointers, so it
        needs no stack.

        >>> tree: RBTree[int, None] = RBTree()
        >>> for k in (3, 1, 2):
        ...     _ = tree.insert(k, None)
        >>> [node.key for node in tree]
        [1, 2, 3]
        """
        gen = self._gen
        handle = self._leftmost
        while handle:
            yield RBNode(self, handle, gen[handle])
            handle = self._next(handle)

    def keys(self) -> Iterator[K]:
        """Yield the keys in order. O(n) for the whole walk."""
        key = self._key
        handle = self._leftmost
        while handle:
            yield key[handle]
            handle = self._next(handle)

    def first(self) -> RBNode[K, V] | None:
        """The node with the smallest key, or None (``rb_first_cached``). O(1)."""
        return self._view(self._leftmost)

    def height(self) -> int:
        """Number of nodes on the longest root-to-leaf path (0 when empty). O(n).

        A red-black tree of n nodes is never taller than 2·log2(n + 1).
        """
        left, right = self._left, self._right
        best = 0
        stack: list[tuple[int, int]] = []
        if self._root:
            stack.append((self._root, 1))
        while stack:
            handle, depth = stack.pop()
            best = max(best, depth)
            if left[handle]:
                stack.append((left[handle], depth + 1))
            if right[handle]:
                stack.append((right[handle], depth + 1))
        return best

    def find(self, key: K) -> RBNode[K, V] | None:
        """The node holding ``key``, or None (eventpoll's ``ep_find``). O(log n).

        Charges one ``tree_compare`` per visited node; traces one TREE_COMPARE per visited node.
        """
        tracer = self._tracer
        keys, left, right = self._key, self._left, self._right
        handle = self._root
        parent = went_right_at = NIL
        if tracer is not None and tracer.enabled:
            others: list[K] = []
            sides: list[str] = []
            while handle:
                parent = handle
                node_key = keys[handle]
                others.append(node_key)
                if key < node_key:
                    sides.append("left")
                    handle = left[handle]
                elif node_key < key:
                    went_right_at = handle
                    sides.append("right")
                    handle = right[handle]
                else:
                    sides.append("found")
                    break
            tracer.charge_compares(self.name, key, others, sides, self.shown)
            if not handle:
                self._miss = (key, parent, went_right_at, len(others), others, sides)
            return self._view(handle)
        visited = 0
        while handle:
            visited += 1
            parent = handle
            node_key = keys[handle]
            if key < node_key:
                handle = left[handle]
            elif node_key < key:
                went_right_at = handle
                handle = right[handle]
            else:
                return self._found(handle, visited)
        if tracer is not None:  # tracing off: no event to record, the batch goes to its counter
            tracer.cost.tree_compare += visited
        self._miss = (key, parent, went_right_at, visited, None, None)
        return None

    def _found(self, handle: int, visited: int) -> RBNode[K, V]:
        """`find`'s untraced hit: charge the descent, return the view."""
        if self._tracer is not None:
            self._tracer.cost.tree_compare += visited
        return RBNode(self, handle, self._gen[handle])

    def lookup_path(self, key: K) -> list[RBNode[K, V]]:
        """The nodes `find` would visit for ``key``, root first, for views to draw. O(log n).

        The last node is the match, if there is one. It is a view: no cost, no trace.
        For an absent key this is also the path `insert` descends.
        """
        keys, left, right, gen = self._key, self._left, self._right, self._gen
        path: list[RBNode[K, V]] = []
        handle = self._root
        while handle:
            path.append(RBNode(self, handle, gen[handle]))
            if key < keys[handle]:
                handle = left[handle]
            elif keys[handle] < key:
                handle = right[handle]
            else:
                break
        return path

    # --- changing ------------------------------------------------------------------------

    def insert(self, key: K, value: V) -> RBNode[K, V]:
        """Add ``key`` -> ``value`` and return its new node (``ep_rbtree_insert``). O(log n).

        Raises KeyError if ``key`` is already present; eventpoll looks the key up first
        (``ep_find`` before ``ep_insert``), so the kernel never needs this check.

        Charges one ``tree_compare`` per node on the descent (the duplicate check is a safety
        net of the model and is not charged). Traces a TREE_COMPARE per visited node, then
        TREE_INSERT, then the TREE_RECOLOR and TREE_ROTATE steps of the rebalancing.
        """
        # Like the kernel's descent, decide left or right with a single comparison per level
        # (ep_cmp_ffd(...) > 0 goes right). The last node we went right at holds the greatest
        # key <= `key`, so one more comparison after the loop detects a duplicate.
        keys, left, right = self._key, self._left, self._right
        parent = NIL
        went_right_at = NIL
        handle = self._root
        tracer = self._tracer
        trace = tracer is not None and tracer.enabled
        miss, self._miss = self._miss, None
        if miss is not None and miss[0] == key and (not trace or miss[4] is not None):
            # `find` just descended for this key and found no node, and the tree has not
            # changed since (eventpoll's ep_find, then ep_insert): the insert's descent would
            # visit the same nodes and go the same ways, so it starts where that one ended.
            # The kernel descends twice, and the cost and the trace still say so: this descent
            # is charged, and traced, as if made (the events share the find's lists of keys and
            # sides, which nobody changes).
            _, parent, went_right_at, depth, others_seen, sides_seen = miss
            if trace:
                assert tracer is not None and others_seen is not None and sides_seen is not None
                tracer.charge_compares(self.name, key, others_seen, sides_seen, self.shown)
            elif tracer is not None:
                tracer.cost.tree_compare += depth
        elif trace:
            # Traced: note each comparison as the descent makes it, for one charge_compares.
            assert tracer is not None
            others: list[K] = []
            sides: list[str] = []
            while handle:
                parent = handle
                node_key = keys[handle]
                others.append(node_key)
                if key < node_key:
                    sides.append("left")
                    handle = left[handle]
                else:
                    went_right_at = handle
                    sides.append("right")
                    handle = right[handle]
            tracer.charge_compares(self.name, key, others, sides, self.shown)
        else:
            depth = 0
            while handle:
                parent = handle
                depth += 1
                if key < keys[handle]:
                    handle = left[handle]
                else:
                    went_right_at = handle
                    handle = right[handle]
            if tracer is not None:
                # No event to record: the batch goes straight to its counter (the hot path of
                # bulk registration; see `Tracer`).
                tracer.cost.tree_compare += depth
        if went_right_at and not keys[went_right_at] < key:
            raise KeyError(key)

        # A free handle is already red with no children; only its parent and data are set.
        # Erased handles are reused first; then never-used ones, counted rather than listed
        # (a list of a million handle numbers would hold a million int objects).
        free = self._free
        if free:
            new = free.pop()
        else:
            new = self._fresh
            if new == len(keys):
                self._grow()
            self._fresh = new + 1
        keys[new] = key
        self._value[new] = value
        self._parent[new] = parent
        self._size += 1
        if not parent:
            self._root = new
            self._leftmost = new
        elif went_right_at == parent:
            right[parent] = new
        else:
            left[parent] = new
            if not went_right_at:
                # Went left all the way down: the new key is the smallest.
                self._leftmost = new
        if trace:
            assert tracer is not None
            tracer.record_free(TraceKind.TREE_INSERT, self.name, _KEY, self._shown(key))
        if not parent or self._red[parent]:
            self._insert_fixup(new, trace)
        return RBNode(self, new, self._gen[new])

    def erase(self, node: RBNode[K, V]) -> None:
        """Remove ``node`` from the tree (``rb_erase_cached`` then ``RB_CLEAR_NODE``). O(log n).

        Nodes are relinked, never copied, so every other node the caller holds stays valid.
        Raises ValueError if ``node`` is not in this tree (another tree's, or already erased).
        Erasing compares no keys, so no ``tree_compare`` is charged. Traces TREE_ERASE, then
        the TREE_RECOLOR and TREE_ROTATE steps of the rebalancing.
        """
        # The kernel trusts its caller; the model refuses a stray node instead of silently
        # corrupting two trees, and the generation tells an erased node from its slot's reuse.
        self._miss = None  # the tree changes: no descent remembered holds any more
        if node._tree is not self:
            raise ValueError(f"{node!r} is not in {self.name}")
        if node.erased:
            raise ValueError(f"this node was already erased from {self.name}")
        handle = node._handle
        keys, left_of, right_of, parent_of, red = (
            self._key,
            self._left,
            self._right,
            self._parent,
            self._red,
        )
        tracer = self._tracer
        trace = tracer is not None and tracer.enabled
        if trace:
            assert tracer is not None
            tracer.record_free(TraceKind.TREE_ERASE, self.name, _KEY, self._shown(keys[handle]))
        if handle == self._leftmost:
            self._leftmost = self._next(handle)

        # CLRS RB-DELETE with nil leaves: `child` replaces the removed position and may be the
        # sentinel, whose parent is never written, so its parent is tracked in `child_parent`.
        left, right = left_of[handle], right_of[handle]
        removed_red = red[handle]
        if not left or not right:
            child = left or right
            child_parent = parent_of[handle]
            self._replace_child(handle, child)
        else:
            # Two children: the in-order successor takes the node's place and colour.
            successor = right
            while left_of[successor]:
                successor = left_of[successor]
            removed_red = red[successor]
            child = right_of[successor]
            if parent_of[successor] == handle:
                child_parent = successor
            else:
                child_parent = parent_of[successor]
                self._replace_child(successor, child)
                right_of[successor] = right
                parent_of[right] = successor
            self._replace_child(handle, successor)
            left_of[successor] = left
            parent_of[left] = successor
            if red[successor] != red[handle]:
                red[successor] = red[handle]
                if trace:
                    self._emit_recolor(successor)
        self._size -= 1
        self._release(handle)
        if not removed_red:
            # A black node left its path: one path is short of a black, repair it.
            self._erase_fixup(child, child_parent, trace)

    # --- handles -------------------------------------------------------------------------

    def _grow(self) -> None:
        """Add never-used handles, by half the capacity, so growing costs O(1) amortised."""
        # Whole-block copies only: converting element by element would cost more than the
        # inserts the new handles serve.
        start = len(self._key)
        count = max(_MIN_GROWTH, start // 2)
        self._key += [None] * count
        self._value += [None] * count
        self._left += _NIL_LINKS * count
        self._right += _NIL_LINKS * count
        self._parent += _NIL_LINKS * count
        self._red += b"\x01" * count
        self._gen += [0] * count

    def _release(self, handle: int) -> None:
        """Clear an erased handle, end its views' generation, and free it for reuse."""
        self._key[handle] = None  # drop the references, as kfree(epi) would
        self._value[handle] = None
        self._left[handle] = self._right[handle] = NIL
        self._parent[handle] = NIL
        self._red[handle] = True
        self._gen[handle] += 1
        self._free.append(handle)

    def _next(self, handle: int) -> int:
        """The in-order successor (``rb_next``), or NIL: O(1) amortised over a whole walk."""
        left, right, parent_of = self._left, self._right, self._parent
        if right[handle]:
            handle = right[handle]
            while left[handle]:
                handle = left[handle]
            return handle
        parent = parent_of[handle]
        while parent and handle == right[parent]:
            handle, parent = parent, parent_of[parent]
        return parent

    # --- rebalancing (lib/rbtree.c: __rb_insert, ____rb_erase_color) ----------------------

    def _insert_fixup(self, node: int, trace: bool) -> None:
        """Restore "no red node has a red parent" and "the root is black" after an insert."""
        left, right, parent_of, red = self._left, self._right, self._parent, self._red
        while True:
            parent = parent_of[node]
            if not parent:
                # Case 1 of __rb_insert: the node is the root, which is always black.
                red[node] = False
                if trace:
                    self._emit_recolor(node)
                return
            if not red[parent]:
                return
            gparent = parent_of[parent]  # a red parent is never the root
            if parent == left[gparent]:
                uncle = right[gparent]
                if red[uncle]:
                    # Red uncle: push the grandparent's black down one level, continue above.
                    red[parent] = red[uncle] = False
                    red[gparent] = True
                    if trace:
                        self._emit_recolor(parent, uncle, gparent)
                    node = gparent
                    continue
                if node == right[parent]:
                    # Zig-zag: rotate into the straight-line case.
                    self._rotate_left(parent, trace)
                    parent = node
                red[parent] = False
                red[gparent] = True
                if trace:
                    self._emit_recolor(parent, gparent)
                self._rotate_right(gparent, trace)
            else:
                uncle = left[gparent]
                if red[uncle]:
                    red[parent] = red[uncle] = False
                    red[gparent] = True
                    if trace:
                        self._emit_recolor(parent, uncle, gparent)
                    node = gparent
                    continue
                if node == left[parent]:
                    self._rotate_right(parent, trace)
                    parent = node
                red[parent] = False
                red[gparent] = True
                if trace:
                    self._emit_recolor(parent, gparent)
                self._rotate_left(gparent, trace)
            return

    def _erase_fixup(self, node: int, parent: int, trace: bool) -> None:
        """Give back the black an erase removed from the paths through ``node``.

        ``node`` (possibly NIL) carries an "extra black"; ``parent`` is its parent. The
        sibling always exists: its side had the removed black too.
        """
        left, right, parent_of, red = self._left, self._right, self._parent, self._red
        while node != self._root and not red[node]:
            if node == left[parent]:
                sibling = right[parent]
                if red[sibling]:
                    # Red sibling: rotate it above the parent so the sibling becomes black.
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_left(parent, trace)
                    sibling = right[parent]
                far, near = right[sibling], left[sibling]
                if not red[far] and not red[near]:
                    # Black sibling with black children: take a black off both sides and
                    # move the extra black up.
                    self._paint(sibling, True, trace)
                    node, parent = parent, parent_of[parent]
                    continue
                if not red[far]:
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_right(sibling, trace)
                    sibling = right[parent]
                    far = right[sibling]
                self._paint(sibling, bool(red[parent]), trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_left(parent, trace)
            else:
                sibling = left[parent]
                if red[sibling]:
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_right(parent, trace)
                    sibling = left[parent]
                far, near = left[sibling], right[sibling]
                if not red[far] and not red[near]:
                    self._paint(sibling, True, trace)
                    node, parent = parent, parent_of[parent]
                    continue
                if not red[far]:
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_left(sibling, trace)
                    sibling = left[parent]
                    far = left[sibling]
                self._paint(sibling, bool(red[parent]), trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_right(parent, trace)
            return
        if node:
            self._paint(node, False, trace)

    def _paint(self, node: int, red: bool, trace: bool) -> None:
        """Set a node's colour, tracing it only if it changes (erase path, not hot)."""
        if self._red[node] != red:
            self._red[node] = red
            if trace:
                self._emit_recolor(node)

    def _rotate_left(self, node: int, trace: bool) -> None:
        """Lift ``node``'s right child into ``node``'s place; ``node`` becomes its left child."""
        left, right, parent_of = self._left, self._right, self._parent
        pivot = right[node]
        moved = left[pivot]
        right[node] = moved
        if moved:
            parent_of[moved] = node
        self._replace_child(node, pivot)
        left[pivot] = node
        parent_of[node] = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.record_free(
                TraceKind.TREE_ROTATE, self.name, _ROTATE, self._shown(self._key[node]), "left"
            )

    def _rotate_right(self, node: int, trace: bool) -> None:
        """Lift ``node``'s left child into ``node``'s place; ``node`` becomes its right child."""
        left, right, parent_of = self._left, self._right, self._parent
        pivot = left[node]
        moved = right[pivot]
        left[node] = moved
        if moved:
            parent_of[moved] = node
        self._replace_child(node, pivot)
        right[pivot] = node
        parent_of[node] = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.record_free(
                TraceKind.TREE_ROTATE, self.name, _ROTATE, self._shown(self._key[node]), "right"
            )

    def _replace_child(self, old: int, new: int) -> None:
        """Hang ``new`` (maybe NIL) where ``old`` hangs from its parent (``__rb_change_child``)."""
        parent = self._parent[old]
        if new:
            self._parent[new] = parent
        if not parent:
            self._root = new
        elif self._left[parent] == old:
            self._left[parent] = new
        else:
            self._right[parent] = new

    # --- tracing -------------------------------------------------------------------------

    def _shown(self, key: object) -> Key:
        """A key as trace events carry it (see `shown`)."""
        return _key(key) if self.shown is None else self.shown(key)

    def _emit_recolor(self, *handles: int) -> None:
        tracer, shown, keys, red = self._tracer, self.shown, self._key, self._red
        assert tracer is not None
        for handle in handles:
            key = keys[handle]
            tracer.record_free(
                TraceKind.TREE_RECOLOR,
                self.name,
                _RECOLOR,
                key if shown is None else shown(key),
                "",
                bool(red[handle]),
            )

    # --- invariants ----------------------------------------------------------------------

    def _check(self) -> None:
        """Verify every invariant; raise AssertionError saying which one broke. O(capacity).

        Checked: the sentinel is black, childless and unchanged; the root has no parent and
        is black; every child's parent pointer; no red node has a red child; every
        root-to-leaf path has the same number of black nodes; keys strictly increase in order
        (the search-tree property); the size; the cached leftmost node; every handle is
        either in the tree or free (exactly once), and free handles are cleared.
        """
        keys, values, left, right = self._key, self._value, self._left, self._right
        parent_of, red = self._parent, self._red
        lengths = {len(array) for array in (keys, values, left, right, parent_of, red, self._gen)}
        if len(lengths) != 1:
            raise AssertionError(f"{self.name}: node arrays of different lengths {lengths}")
        if (keys[NIL], values[NIL], left[NIL], right[NIL], parent_of[NIL], red[NIL]) != (
            None,
            None,
            NIL,
            NIL,
            NIL,
            False,
        ):
            raise AssertionError(f"{self.name}: the nil sentinel was written to")
        root = self._root
        reachable: set[int] = set()
        if not root:
            if self._size != 0:
                raise AssertionError(f"{self.name}: empty tree but size {self._size}")
            if self._leftmost:
                raise AssertionError(f"{self.name}: empty tree but leftmost {self._leftmost}")
        else:
            self._check_shape(root, reachable)
        self._check_free(reachable)

    def _check_shape(self, root: int, reachable: set[int]) -> None:
        """The invariants of a non-empty tree; fills ``reachable`` with its handles."""
        left, right, parent_of, red = self._left, self._right, self._parent, self._red
        view = self._view
        if parent_of[root]:
            raise AssertionError(
                f"{self.name}: root {view(root)!r} has parent {view(parent_of[root])!r}"
            )
        if red[root]:
            raise AssertionError(f"{self.name}: root {view(root)!r} is red")
        black_height: int | None = None
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            handle, blacks = stack.pop()
            reachable.add(handle)
            if len(reachable) > self._size:
                raise AssertionError(
                    f"{self.name}: more nodes reachable than size {self._size} (a cycle?)"
                )
            if not red[handle]:
                blacks += 1
            for child in (left[handle], right[handle]):
                if not child:
                    if black_height is None:
                        black_height = blacks
                    elif blacks != black_height:
                        raise AssertionError(
                            f"{self.name}: black height {blacks} below {view(handle)!r}, "
                            f"{black_height} elsewhere"
                        )
                    continue
                if parent_of[child] != handle:
                    raise AssertionError(
                        f"{self.name}: {view(child)!r} is a child of {view(handle)!r} "
                        f"but its parent is {view(parent_of[child])!r}"
                    )
                if red[handle] and red[child]:
                    raise AssertionError(
                        f"{self.name}: red {view(child)!r} under red {view(handle)!r}"
                    )
                stack.append((child, blacks))
        if len(reachable) != self._size:
            raise AssertionError(
                f"{self.name}: {len(reachable)} nodes reachable, size says {self._size}"
            )
        leftmost = root
        while left[leftmost]:
            leftmost = left[leftmost]
        if self._leftmost != leftmost:
            raise AssertionError(
                f"{self.name}: cached leftmost {view(self._leftmost)!r}, actual {view(leftmost)!r}"
            )
        previous: K | None = None
        for key in self.keys():
            if previous is not None and not previous < key:
                raise AssertionError(f"{self.name}: keys out of order: {previous!r} before {key!r}")
            previous = key

    def _check_free(self, reachable: set[int]) -> None:
        """Every handle but the sentinel is in the tree or free (once), and free ones are clear.

        A free handle holds no key or value and no links, and is red, ready for `insert`.
        """
        free = set(self._free)
        never_used = range(self._fresh, len(self._key))
        if (
            len(free) != len(self._free)
            or NIL in free
            or free & reachable
            or any(h >= self._fresh for h in free)
        ):
            raise AssertionError(f"{self.name}: free list repeats a handle or holds a live one")
        if len(free) + len(never_used) + len(reachable) != len(self._key) - 1:
            raise AssertionError(f"{self.name}: handles neither in the tree nor free (a leak)")
        for handle in (*free, *never_used):
            cleared = (
                self._key[handle] is None
                and self._value[handle] is None
                and not self._left[handle]
                and not self._right[handle]
                and not self._parent[handle]
                and self._red[handle]
            )
            if not cleared:
                raise AssertionError(f"{self.name}: free handle {handle} was not cleared")
