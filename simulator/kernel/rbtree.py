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

Why the nodes live in one flat array
------------------------------------
The complexity lab inserts a million keys. With one Python object per node, CPython's cyclic
garbage collector walks every node in each full collection, and those collections alone made
building the tree twice as slow as the tree's own work. So a node is an int *handle* into
arrays owned by the tree, which the collector does not walk: ``_node``, an ``array('q')``
holding four 64-bit words per node side by side -- ``_node[h]`` the key, ``_node[h + 1]`` the
left child, ``_node[h + 2]`` the right child, ``_node[h + 3]`` the parent (handles are
multiples of 4, so a field is one addition away) -- and, beside it, ``_red`` (a ``bytearray``
indexed by handle), ``_value`` and ``_gen`` (lists indexed by ``handle >> 2``).

The descent reads one node per level, and a node is one 32-byte stretch of memory: its key
and both links share a cache line. With the key in a list of int objects and each link in
an array of its own, a level cost three cache misses (the list slot, the int object
somewhere on the heap, the link); measured over a tree of 200,000 random keys, the packed
node made the descent ~40% faster (tests/benchmarks/bench_rbtree.py). The price: keys are
ints that fit in 64 bits (eventpoll packs ``(file, fd)`` in one,
`simulator.kernel.eventpoll.ep_key`); `insert` refuses any other key (TypeError,
OverflowError) before changing anything.

This module is pure Python and is the source of truth. When the package is installed from a
source tree with a C compiler, the build also compiles it with mypyc into an extension
module that the import finds first (see ``setup.py``); `COMPILED` says which one runs, and
``MUXLAB_PURE_PYTHON=1`` in the environment makes the import take this file instead.

Handle 0 is the nil sentinel (the kernel's ``NULL``): black, no children, never written, so
"is the uncle red?" needs no None check. Erased handles go on a free list and are reused
first, as a slab cache reuses freed objects; handles never used yet are counted, not listed
(`_fresh`); the array grows by half at a time and never shrinks. A free handle is kept ready
for reuse: no key, no children, red, and its parent is itself (the kernel's
``RB_CLEAR_NODE``), which tells it from a node in the tree.

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

Keys are ints in the signed 64-bit range; eventpoll packs ``(file_id, fd)`` into one.

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

import os
from array import array
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, TypeVar

from simulator.kernel.trace import TraceKind, Tracer
from simulator.observe import Key

K = TypeVar("K", bound=int)
V = TypeVar("V")

#: Is this the module mypyc compiled (True), or this file run by the interpreter (False)?
#: (A compiled module's ``__file__`` is its extension, not this source.)
COMPILED: Final = not os.path.basename(__file__).endswith(".py")

#: The nil sentinel: the handle of every absent child and of the root's parent.
NIL = 0

#: Words per node in `RBTree._node` (key, left, right, parent): handles are multiples of it.
STRIDE = 4

#: Nodes added per growth of the node arrays, at least (then half the current capacity).
_MIN_GROWTH = 16

#: One never-used node (key 0, no children, no parent), repeated to grow the node array.
_BLANK_NODE = array("q", [0] * STRIDE)


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
        return self._tree._gen[self._handle >> 2] != self._gen

    @property
    def key(self) -> K:
        """The node's key."""
        return self._tree._node[self._live()]  # type: ignore[return-value]

    @property
    def value(self) -> V:
        """The value stored with the key (eventpoll: the epitem)."""
        return self._tree._value[self._live() >> 2]  # type: ignore[no-any-return]

    @property
    def red(self) -> bool:
        """Is the node red (else black)?"""
        return bool(self._tree._red[self._live()])

    @property
    def left(self) -> RBNode[K, V] | None:
        """The left child, or None."""
        return None if self.erased else self._tree._view(self._tree._node[self._handle + 1])

    @property
    def right(self) -> RBNode[K, V] | None:
        """The right child, or None."""
        return None if self.erased else self._tree._view(self._tree._node[self._handle + 2])

    @property
    def parent(self) -> RBNode[K, V] | None:
        """The parent, None for the root, the node itself once erased (``RB_CLEAR_NODE``)."""
        return self if self.erased else self._tree._view(self._tree._node[self._handle + 3])

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


def _key(key: object) -> Any:
    """A key as trace events carry it: epoll's tree keys are ``(file, fd)`` (`Key`); the
    tests' trees use other orderable keys, which the events carry as they are. (Typed Any, not
    a ``cast`` to `Key`: compiled, this module checks declared types when it runs.)"""
    return key


class RBTree(Generic[K, V]):
    """A red-black tree of unique int keys (``struct rb_root_cached`` with eventpoll's usage).

    ``tracer`` receives the cost of every operation and, when ``tracer.enabled``, its trace
    events (``where`` is ``name``). Without a tracer nothing is counted.

    Mutating the tree while iterating over it is not supported, as in the kernel, where the
    walk and the changes are serialised by ``ep->mtx``.

    >>> tree: RBTree[int, str] = RBTree()
    >>> node = tree.insert(7 << 32 | 3, "epitem for fd 3 of file 7")
    >>> tree.find(7 << 32 | 3) == node, tree.find(7 << 32 | 4)
    (True, None)
    >>> tree.erase(node)
    >>> len(tree), tree.root, node.erased
    (0, None, True)
    """

    __slots__ = (
        "_free",
        "_fresh",
        "_gen",
        "_leftmost",
        "_miss",
        "_node",
        "_red",
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
        # The node array: STRIDE words per handle (key, left, right, parent); the first node
        # is the nil sentinel. `_red` is indexed by handle like `_node` (three bytes of four
        # unused: an index without a shift on the rebalancing's path); values and generations
        # by handle >> 2. Values are Any because the sentinel and free handles hold None.
        self._node = array("q", _BLANK_NODE)
        self._red = bytearray(STRIDE)
        self._value: list[Any] = [None]
        self._gen: list[int] = [0]  # bumped on erase, so stale views can tell
        self._free: list[int] = []  # erased handles ready for reuse, the next one last
        self._fresh = STRIDE  # the lowest handle never used: it and all above it are free too
        self._root = NIL
        self._leftmost = NIL  # rb_root_cached.rb_leftmost
        # Where the last `find` of an absent key ended, until the tree next changes: (key,
        # parent, went right at, nodes visited, and if traced the keys compared and the sides
        # taken). See `insert`.
        self._miss: tuple[int, int, int, int, list[int] | None, list[str] | None] | None = None
        self._size = 0

    def _view(self, handle: int) -> RBNode[K, V] | None:
        """A view of ``handle``, or None for the sentinel."""
        return RBNode(self, handle, self._gen[handle >> 2]) if handle else None

    # --- reading -------------------------------------------------------------------------

    def node_at(self, handle: int) -> RBNode[K, V]:
        """A view of the node at `handle` (from `RBNode.handle`), which must be in the tree:
        a caller that keeps handles instead of views keeps one object less per node. O(1)."""
        node = self._node
        if not (0 < handle < self._fresh and handle % STRIDE == 0) or node[handle + 3] == handle:
            raise ValueError(f"no node at handle {handle} in {self.name}")
        return RBNode(self, handle, self._gen[handle >> 2])

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
            yield RBNode(self, handle, gen[handle >> 2])
            handle = self._next(handle)

    def keys(self) -> Iterator[K]:
        """Yield the keys in order. O(n) for the whole walk."""
        node = self._node
        handle = self._leftmost
        while handle:
            yield node[handle]  # type: ignore[misc]
            handle = self._next(handle)

    def first(self) -> RBNode[K, V] | None:
        """The node with the smallest key, or None (``rb_first_cached``). O(1)."""
        return self._view(self._leftmost)

    def height(self) -> int:
        """Number of nodes on the longest root-to-leaf path (0 when empty). O(n).

        A red-black tree of n nodes is never taller than 2·log2(n + 1).
        """
        node = self._node
        best = 0
        stack: list[tuple[int, int]] = []
        if self._root:
            stack.append((self._root, 1))
        while stack:
            handle, depth = stack.pop()
            best = max(best, depth)
            if node[handle + 1]:
                stack.append((node[handle + 1], depth + 1))
            if node[handle + 2]:
                stack.append((node[handle + 2], depth + 1))
        return best

    def find(self, key: K) -> RBNode[K, V] | None:
        """The node holding ``key``, or None (eventpoll's ``ep_find``). O(log n).

        Charges one ``tree_compare`` per visited node; traces one TREE_COMPARE per visited node.
        """
        tracer = self._tracer
        node = self._node
        handle = self._root
        parent = went_right_at = NIL
        if tracer is not None and tracer.enabled:
            others: list[int] = []
            sides: list[str] = []
            while handle:
                parent = handle
                node_key = node[handle]
                others.append(node_key)
                if key < node_key:
                    sides.append("left")
                    handle = node[handle + 1]
                elif node_key < key:
                    went_right_at = handle
                    sides.append("right")
                    handle = node[handle + 2]
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
            node_key = node[handle]
            if key < node_key:
                handle = node[handle + 1]
            elif node_key < key:
                went_right_at = handle
                handle = node[handle + 2]
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
        return RBNode(self, handle, self._gen[handle >> 2])

    def lookup_path(self, key: K) -> list[RBNode[K, V]]:
        """The nodes `find` would visit for ``key``, root first, for views to draw. O(log n).

        The last node is the match, if there is one. It is a view: no cost, no trace.
        For an absent key this is also the path `insert` descends.
        """
        node, gen = self._node, self._gen
        path: list[RBNode[K, V]] = []
        handle = self._root
        while handle:
            path.append(RBNode(self, handle, gen[handle >> 2]))
            if key < node[handle]:
                handle = node[handle + 1]
            elif node[handle] < key:
                handle = node[handle + 2]
            else:
                break
        return path

    # --- changing ------------------------------------------------------------------------

    def insert(self, key: K, value: V) -> RBNode[K, V]:
        """Add ``key`` -> ``value`` and return its new node (``ep_rbtree_insert``). O(log n).

        Raises KeyError if ``key`` is already present; eventpoll looks the key up first
        (``ep_find`` before ``ep_insert``), so the kernel never needs this check. Raises
        TypeError for a key that is not an int and OverflowError for one outside the signed
        64-bit range, and then the tree is unchanged.

        Charges one ``tree_compare`` per node on the descent (the duplicate check is a safety
        net of the model and is not charged). Traces a TREE_COMPARE per visited node, then
        TREE_INSERT, then the TREE_RECOLOR and TREE_ROTATE steps of the rebalancing.
        """
        # Like the kernel's descent, decide left or right with a single comparison per level
        # (ep_cmp_ffd(...) > 0 goes right). The last node we went right at holds the greatest
        # key <= `key`, so one more comparison after the loop detects a duplicate.
        node = self._node
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
            others: list[int] = []
            sides: list[str] = []
            while handle:
                parent = handle
                node_key = node[handle]
                others.append(node_key)
                if key < node_key:
                    sides.append("left")
                    handle = node[handle + 1]
                else:
                    went_right_at = handle
                    sides.append("right")
                    handle = node[handle + 2]
            tracer.charge_compares(self.name, key, others, sides, self.shown)
        else:
            depth = 0
            while handle:
                parent = handle
                depth += 1
                if key < node[handle]:
                    handle = node[handle + 1]
                else:
                    went_right_at = handle
                    handle = node[handle + 2]
            if tracer is not None:
                # No event to record: the batch goes straight to its counter (the hot path of
                # bulk registration; see `Tracer`).
                tracer.cost.tree_compare += depth
        if went_right_at and not node[went_right_at] < key:
            raise KeyError(key)

        # A free handle is already red with no children; its parent, key and value are set.
        # Erased handles are reused first; then never-used ones, counted rather than listed
        # (a list of a million handle numbers would hold a million int objects). The key is
        # stored first: the array refuses a key it cannot hold before anything has changed.
        free = self._free
        if free:
            new = free[-1]
            node[new] = key
            free.pop()
        else:
            new = self._fresh
            if new == len(node):
                self._grow()
                node = self._node
            node[new] = key
            self._fresh = new + STRIDE
        self._value[new >> 2] = value
        node[new + 3] = parent
        self._size += 1
        if not parent:
            self._root = new
            self._leftmost = new
        elif went_right_at == parent:
            node[parent + 2] = new
        else:
            node[parent + 1] = new
            if not went_right_at:
                # Went left all the way down: the new key is the smallest.
                self._leftmost = new
        if trace:
            assert tracer is not None
            tracer.record_free(TraceKind.TREE_INSERT, self.name, _KEY, self._shown(key))
        if not parent or self._red[parent]:
            self._insert_fixup(new, trace)
        return RBNode(self, new, self._gen[new >> 2])

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
        words, red = self._node, self._red
        tracer = self._tracer
        trace = tracer is not None and tracer.enabled
        if trace:
            assert tracer is not None
            tracer.record_free(TraceKind.TREE_ERASE, self.name, _KEY, self._shown(words[handle]))
        if handle == self._leftmost:
            self._leftmost = self._next(handle)

        # CLRS RB-DELETE with nil leaves: `child` replaces the removed position and may be the
        # sentinel, whose parent is never written, so its parent is tracked in `child_parent`.
        left, right = words[handle + 1], words[handle + 2]
        removed_red = red[handle]
        if not left or not right:
            child = left or right
            child_parent = words[handle + 3]
            self._replace_child(handle, child)
        else:
            # Two children: the in-order successor takes the node's place and colour.
            successor = right
            while words[successor + 1]:
                successor = words[successor + 1]
            removed_red = red[successor]
            child = words[successor + 2]
            if words[successor + 3] == handle:
                child_parent = successor
            else:
                child_parent = words[successor + 3]
                self._replace_child(successor, child)
                words[successor + 2] = right
                words[right + 3] = successor
            self._replace_child(handle, successor)
            words[successor + 1] = left
            words[left + 3] = successor
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
        count = max(_MIN_GROWTH, len(self._value) // 2)
        self._node += _BLANK_NODE * count
        self._red += b"\x01" * (STRIDE * count)
        self._value += [None] * count
        self._gen += [0] * count

    def _release(self, handle: int) -> None:
        """Clear an erased handle, end its views' generation, and free it for reuse."""
        node = self._node
        node[handle] = node[handle + 1] = node[handle + 2] = 0  # no key, no children
        node[handle + 3] = handle  # RB_CLEAR_NODE: not in the tree
        self._value[handle >> 2] = None  # drop the reference, as kfree(epi) would
        self._red[handle] = True
        self._gen[handle >> 2] += 1
        self._free.append(handle)

    def _next(self, handle: int) -> int:
        """The in-order successor (``rb_next``), or NIL: O(1) amortised over a whole walk."""
        node = self._node
        if node[handle + 2]:
            handle = node[handle + 2]
            while node[handle + 1]:
                handle = node[handle + 1]
            return handle
        parent = node[handle + 3]
        while parent and handle == node[parent + 2]:
            handle, parent = parent, node[parent + 3]
        return parent

    # --- rebalancing (lib/rbtree.c: __rb_insert, ____rb_erase_color) ----------------------

    def _insert_fixup(self, handle: int, trace: bool) -> None:
        """Restore "no red node has a red parent" and "the root is black" after an insert."""
        node, red = self._node, self._red
        while True:
            parent = node[handle + 3]
            if not parent:
                # Case 1 of __rb_insert: the node is the root, which is always black.
                red[handle] = False
                if trace:
                    self._emit_recolor(handle)
                return
            if not red[parent]:
                return
            gparent = node[parent + 3]  # a red parent is never the root
            if parent == node[gparent + 1]:
                uncle = node[gparent + 2]
                if red[uncle]:
                    # Red uncle: push the grandparent's black down one level, continue above.
                    red[parent] = red[uncle] = False
                    red[gparent] = True
                    if trace:
                        self._emit_recolor(parent, uncle, gparent)
                    handle = gparent
                    continue
                if handle == node[parent + 2]:
                    # Zig-zag: rotate into the straight-line case.
                    self._rotate_left(parent, trace)
                    parent = handle
                red[parent] = False
                red[gparent] = True
                if trace:
                    self._emit_recolor(parent, gparent)
                self._rotate_right(gparent, trace)
            else:
                uncle = node[gparent + 1]
                if red[uncle]:
                    red[parent] = red[uncle] = False
                    red[gparent] = True
                    if trace:
                        self._emit_recolor(parent, uncle, gparent)
                    handle = gparent
                    continue
                if handle == node[parent + 1]:
                    self._rotate_right(parent, trace)
                    parent = handle
                red[parent] = False
                red[gparent] = True
                if trace:
                    self._emit_recolor(parent, gparent)
                self._rotate_left(gparent, trace)
            return

    def _erase_fixup(self, handle: int, parent: int, trace: bool) -> None:
        """Give back the black an erase removed from the paths through ``handle``.

        ``handle`` (possibly NIL) carries an "extra black"; ``parent`` is its parent. The
        sibling always exists: its side had the removed black too.
        """
        node, red = self._node, self._red
        while handle != self._root and not red[handle]:
            if handle == node[parent + 1]:
                sibling = node[parent + 2]
                if red[sibling]:
                    # Red sibling: rotate it above the parent so the sibling becomes black.
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_left(parent, trace)
                    sibling = node[parent + 2]
                far, near = node[sibling + 2], node[sibling + 1]
                if not red[far] and not red[near]:
                    # Black sibling with black children: take a black off both sides and
                    # move the extra black up.
                    self._paint(sibling, True, trace)
                    handle, parent = parent, node[parent + 3]
                    continue
                if not red[far]:
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_right(sibling, trace)
                    sibling = node[parent + 2]
                    far = node[sibling + 2]
                self._paint(sibling, bool(red[parent]), trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_left(parent, trace)
            else:
                sibling = node[parent + 1]
                if red[sibling]:
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_right(parent, trace)
                    sibling = node[parent + 1]
                far, near = node[sibling + 1], node[sibling + 2]
                if not red[far] and not red[near]:
                    self._paint(sibling, True, trace)
                    handle, parent = parent, node[parent + 3]
                    continue
                if not red[far]:
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_left(sibling, trace)
                    sibling = node[parent + 1]
                    far = node[sibling + 1]
                self._paint(sibling, bool(red[parent]), trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_right(parent, trace)
            return
        if handle:
            self._paint(handle, False, trace)

    def _paint(self, handle: int, red: bool, trace: bool) -> None:
        """Set a node's colour, tracing it only if it changes (erase path, not hot)."""
        if self._red[handle] != red:
            self._red[handle] = red
            if trace:
                self._emit_recolor(handle)

    def _rotate_left(self, handle: int, trace: bool) -> None:
        """Lift ``handle``'s right child into its place; ``handle`` becomes its left child."""
        node = self._node
        pivot = node[handle + 2]
        moved = node[pivot + 1]
        node[handle + 2] = moved
        if moved:
            node[moved + 3] = handle
        self._replace_child(handle, pivot)
        node[pivot + 1] = handle
        node[handle + 3] = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.record_free(
                TraceKind.TREE_ROTATE, self.name, _ROTATE, self._shown(node[handle]), "left"
            )

    def _rotate_right(self, handle: int, trace: bool) -> None:
        """Lift ``handle``'s left child into its place; ``handle`` becomes its right child."""
        node = self._node
        pivot = node[handle + 1]
        moved = node[pivot + 2]
        node[handle + 1] = moved
        if moved:
            node[moved + 3] = handle
        self._replace_child(handle, pivot)
        node[pivot + 2] = handle
        node[handle + 3] = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.record_free(
                TraceKind.TREE_ROTATE, self.name, _ROTATE, self._shown(node[handle]), "right"
            )

    def _replace_child(self, old: int, new: int) -> None:
        """Hang ``new`` (maybe NIL) where ``old`` hangs from its parent (``__rb_change_child``)."""
        node = self._node
        parent = node[old + 3]
        if new:
            node[new + 3] = parent
        if not parent:
            self._root = new
        elif node[parent + 1] == old:
            node[parent + 1] = new
        else:
            node[parent + 2] = new

    # --- tracing -------------------------------------------------------------------------

    def _shown(self, key: object) -> Any:
        """A key as trace events carry it (see `shown`)."""
        return _key(key) if self.shown is None else self.shown(key)

    def _emit_recolor(self, *handles: int) -> None:
        tracer, shown, node, red = self._tracer, self.shown, self._node, self._red
        assert tracer is not None
        for handle in handles:
            key = node[handle]
            tracer.record_free(
                TraceKind.TREE_RECOLOR,
                self.name,
                _RECOLOR,
                _key(key) if shown is None else shown(key),
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
        node, values, red = self._node, self._value, self._red
        sizes = {len(node), len(red), STRIDE * len(values), STRIDE * len(self._gen)}
        if len(sizes) != 1:
            raise AssertionError(f"{self.name}: node arrays of different lengths {sizes}")
        if (*node[NIL:STRIDE], values[NIL], red[NIL]) != (0, NIL, NIL, NIL, None, False):
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
        node, red = self._node, self._red
        view = self._view
        if node[root + 3]:
            raise AssertionError(
                f"{self.name}: root {view(root)!r} has parent {view(node[root + 3])!r}"
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
            for child in (node[handle + 1], node[handle + 2]):
                if not child:
                    if black_height is None:
                        black_height = blacks
                    elif blacks != black_height:
                        raise AssertionError(
                            f"{self.name}: black height {blacks} below {view(handle)!r}, "
                            f"{black_height} elsewhere"
                        )
                    continue
                if not (0 < child < self._fresh and child % STRIDE == 0):
                    raise AssertionError(f"{self.name}: {view(handle)!r} links to {child}")
                if node[child + 3] != handle:
                    raise AssertionError(
                        f"{self.name}: {view(child)!r} is a child of {view(handle)!r} "
                        f"but its parent is {node[child + 3]}"
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
        while node[leftmost + 1]:
            leftmost = node[leftmost + 1]
        if self._leftmost != leftmost:
            raise AssertionError(
                f"{self.name}: cached leftmost {view(self._leftmost)!r}, actual {view(leftmost)!r}"
            )
        previous: int | None = None
        for key in self.keys():
            if previous is not None and not previous < key:
                raise AssertionError(f"{self.name}: keys out of order: {previous!r} before {key!r}")
            previous = key

    def _check_free(self, reachable: set[int]) -> None:
        """Every handle but the sentinel is in the tree or free (once), and free ones are clear.

        A free handle holds no key or value and no children, and is red, ready for `insert`;
        an erased one is its own parent (``RB_CLEAR_NODE``), a never-used one has none.
        """
        node = self._node
        free = set(self._free)
        never_used = range(self._fresh, len(node), STRIDE)
        if (
            len(free) != len(self._free)
            or NIL in free
            or free & reachable
            or any(h >= self._fresh or h % STRIDE for h in free)
        ):
            raise AssertionError(f"{self.name}: free list repeats a handle or holds a live one")
        if STRIDE * (len(free) + len(never_used) + len(reachable)) != len(node) - STRIDE:
            raise AssertionError(f"{self.name}: handles neither in the tree nor free (a leak)")
        for handle in (*free, *never_used):
            cleared = (
                node[handle] == node[handle + 1] == node[handle + 2] == 0
                and node[handle + 3] == (handle if handle < self._fresh else NIL)
                and self._value[handle >> 2] is None
                and self._red[handle]
            )
            if not cleared:
                raise AssertionError(f"{self.name}: free handle {handle} was not cleared")
