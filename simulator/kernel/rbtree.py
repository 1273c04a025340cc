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

Nodes are linked without a sentinel: an absent child is ``None`` (the kernel's ``NULL``). An
erased node's parent points to itself, the kernel's ``RB_CLEAR_NODE``, so erasing it twice is
caught instead of corrupting the tree. Like ``struct rb_root_cached``, the tree remembers its
leftmost node, which makes `RBTree.first` O(1).

Keys only need ``<`` (a total order); eventpoll uses ``(file_id, fd)`` tuples.

The insertion path is written for speed, because the complexity lab inserts a million keys:
no per-node method calls in the descent, one comparison per level, the tracing check taken
once per call, and costs added once per call from a local counter.

>>> tree: RBTree[int, str] = RBTree()
>>> for k in (5, 2, 8, 1):
...     _ = tree.insert(k, str(k))
>>> list(tree.keys()), len(tree), tree.root.key if tree.root else None
([1, 2, 5, 8], 4, 5)
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any, Generic, Protocol, TypeVar

from simulator.kernel.trace import TraceKind, Tracer


class SupportsLessThan(Protocol):
    """A key type: anything totally ordered by ``<`` (ints, strings, tuples of those)."""

    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=SupportsLessThan)
V = TypeVar("V")


class RBNode(Generic[K, V]):
    """One tree node (the kernel's ``struct rb_node`` plus the key and value it is embedded in).

    In the kernel the node is embedded in the epitem (``epi->rbn``) and the key is read back
    through ``container_of``; here the node carries ``key`` and ``value`` itself. Views may read
    ``key``, ``value``, ``red``, ``left``, ``right`` and ``parent``; only `RBTree` writes them.
    """

    __slots__ = ("key", "left", "parent", "red", "right", "value")

    def __init__(self, key: K, value: V, parent: RBNode[K, V] | None) -> None:
        self.key = key
        self.value = value
        self.left: RBNode[K, V] | None = None
        self.right: RBNode[K, V] | None = None
        self.parent = parent
        # New nodes are red, as in rb_link_node + rb_insert_color: that never changes a
        # black height, so insertion only has to repair red-red pairs.
        self.red = True

    def __repr__(self) -> str:
        return f"RBNode({self.key!r}, {'red' if self.red else 'black'})"


def _colour(red: bool) -> str:
    return "red" if red else "black"


class RBTree(Generic[K, V]):
    """A red-black tree of unique keys (``struct rb_root_cached`` with eventpoll's usage).

    ``tracer`` receives the cost of every operation and, when ``tracer.enabled``, its trace
    events (``where`` is ``name``). Without a tracer nothing is counted.

    Mutating the tree while iterating over it is not supported, as in the kernel, where the
    walk and the changes are serialised by ``ep->mtx``.

    >>> tree: RBTree[tuple[int, int], str] = RBTree()
    >>> node = tree.insert((7, 3), "epitem for fd 3")
    >>> tree.find((7, 3)) is node, tree.find((7, 4))
    (True, None)
    >>> tree.erase(node)
    >>> len(tree), tree.root
    (0, None)
    """

    __slots__ = ("_leftmost", "_root", "_size", "_tracer", "name")

    def __init__(self, tracer: Tracer | None = None, name: str = "rbr") -> None:
        self._tracer = tracer
        self.name = name
        self._root: RBNode[K, V] | None = None
        self._leftmost: RBNode[K, V] | None = None  # rb_root_cached.rb_leftmost
        self._size = 0

    # --- reading -------------------------------------------------------------------------

    @property
    def root(self) -> RBNode[K, V] | None:
        """The root node, or None when the tree is empty. O(1)."""
        return self._root

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
        node = self._leftmost
        while node is not None:
            yield node
            node = _next(node)

    def keys(self) -> Iterator[K]:
        """Yield the keys in order. O(n) for the whole walk."""
        for node in self:
            yield node.key

    def first(self) -> RBNode[K, V] | None:
        """The node with the smallest key, or None (``rb_first_cached``). O(1)."""
        return self._leftmost

    def height(self) -> int:
        """Number of nodes on the longest root-to-leaf path (0 when empty). O(n).

        A red-black tree of n nodes is never taller than 2·log2(n + 1).
        """
        best = 0
        stack: list[tuple[RBNode[K, V], int]] = []
        if self._root is not None:
            stack.append((self._root, 1))
        while stack:
            node, depth = stack.pop()
            best = max(best, depth)
            if node.left is not None:
                stack.append((node.left, depth + 1))
            if node.right is not None:
                stack.append((node.right, depth + 1))
        return best

    def find(self, key: K) -> RBNode[K, V] | None:
        """The node holding ``key``, or None (eventpoll's ``ep_find``). O(log n).

        Charges one ``tree_compare`` per visited node; traces one TREE_COMPARE per visited node.
        """
        tracer = self._tracer
        trace = tracer is not None and tracer.enabled
        node = self._root
        visited = 0
        while node is not None:
            visited += 1
            node_key = node.key
            if key < node_key:
                if trace:
                    _emit_compare(self, key, node, "left")
                node = node.left
            elif node_key < key:
                if trace:
                    _emit_compare(self, key, node, "right")
                node = node.right
            else:
                if trace:
                    _emit_compare(self, key, node, "found")
                break
        if tracer is not None:
            tracer.cost.tree_compare += visited
        return node

    def lookup_path(self, key: K) -> list[RBNode[K, V]]:
        """The nodes `find` would visit for ``key``, root first, for views to draw. O(log n).

        The last node is the match, if there is one. It is a view: no cost, no trace.
        For an absent key this is also the path `insert` descends.
        """
        path: list[RBNode[K, V]] = []
        node = self._root
        while node is not None:
            path.append(node)
            if key < node.key:
                node = node.left
            elif node.key < key:
                node = node.right
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
        parent: RBNode[K, V] | None = None
        went_right_at: RBNode[K, V] | None = None
        node = self._root
        depth = 0
        while node is not None:
            parent = node
            depth += 1
            if key < node.key:
                node = node.left
            else:
                went_right_at = node
                node = node.right
        tracer = self._tracer
        trace = False
        if tracer is not None:
            tracer.cost.tree_compare += depth
            trace = tracer.enabled
        if trace:
            self._emit_descent(key, parent, went_right_at)
        if went_right_at is not None and not went_right_at.key < key:
            raise KeyError(key)

        new = RBNode(key, value, parent)
        self._size += 1
        if parent is None:
            self._root = new
            self._leftmost = new
        elif went_right_at is parent:
            parent.right = new
        else:
            parent.left = new
            if went_right_at is None:
                # Went left all the way down: the new key is the smallest.
                self._leftmost = new
        if trace:
            assert tracer is not None
            tracer.emit(TraceKind.TREE_INSERT, self.name, repr(key))
        if parent is None or parent.red:
            self._insert_fixup(new, trace)
        return new

    def erase(self, node: RBNode[K, V]) -> None:
        """Remove ``node`` from the tree (``rb_erase_cached`` then ``RB_CLEAR_NODE``). O(log n).

        Nodes are relinked, never copied, so every other node the caller holds stays valid.
        Raises ValueError if ``node`` is not in this tree (already erased, or another tree's).
        Erasing compares no keys, so no ``tree_compare`` is charged. Traces TREE_ERASE, then
        the TREE_RECOLOR and TREE_ROTATE steps of the rebalancing.
        """
        if node.parent is node:
            raise ValueError(f"{node!r} was already erased from {self.name}")
        # The kernel trusts its caller; the model walks up to the root (O(log n), like the
        # erase itself) so a stray node is refused instead of silently corrupting two trees.
        top = node
        while top.parent is not None:
            top = top.parent
        if top is not self._root:
            raise ValueError(f"{node!r} is not in {self.name}")
        tracer = self._tracer
        trace = tracer is not None and tracer.enabled
        if trace:
            assert tracer is not None
            tracer.emit(TraceKind.TREE_ERASE, self.name, repr(node.key))
        if node is self._leftmost:
            self._leftmost = _next(node)

        # CLRS RB-DELETE with NULL leaves: `child` replaces the removed position and may be
        # None, so its parent is tracked separately in `child_parent`.
        left, right = node.left, node.right
        removed_red = node.red
        child: RBNode[K, V] | None
        if left is None or right is None:
            child = left if left is not None else right
            child_parent = node.parent
            self._replace_child(node, child)
        else:
            # Two children: the in-order successor takes the node's place and colour.
            successor = right
            while successor.left is not None:
                successor = successor.left
            removed_red = successor.red
            child = successor.right
            if successor.parent is node:
                child_parent = successor
            else:
                child_parent = successor.parent
                self._replace_child(successor, child)
                successor.right = right
                right.parent = successor
            self._replace_child(node, successor)
            successor.left = left
            left.parent = successor
            if successor.red != node.red:
                successor.red = node.red
                if trace:
                    _emit_recolor(self, successor)
        self._size -= 1
        node.left = node.right = None
        node.parent = node  # RB_CLEAR_NODE: marks the node as not in any tree
        if not removed_red:
            # A black node left its path: one path is short of a black, repair it.
            self._erase_fixup(child, child_parent, trace)

    # --- rebalancing (lib/rbtree.c: __rb_insert, ____rb_erase_color) ----------------------

    def _insert_fixup(self, node: RBNode[K, V], trace: bool) -> None:
        """Restore "no red node has a red parent" and "the root is black" after an insert."""
        while True:
            parent = node.parent
            if parent is None:
                # Case 1 of __rb_insert: the node is the root, which is always black.
                node.red = False
                if trace:
                    _emit_recolor(self, node)
                return
            if not parent.red:
                return
            gparent = parent.parent
            assert gparent is not None  # a red parent is never the root
            if parent is gparent.left:
                uncle = gparent.right
                if uncle is not None and uncle.red:
                    # Red uncle: push the grandparent's black down one level, continue above.
                    parent.red = uncle.red = False
                    gparent.red = True
                    if trace:
                        _emit_recolor(self, parent, uncle, gparent)
                    node = gparent
                    continue
                if node is parent.right:
                    # Zig-zag: rotate into the straight-line case.
                    self._rotate_left(parent, trace)
                    parent = node
                parent.red = False
                gparent.red = True
                if trace:
                    _emit_recolor(self, parent, gparent)
                self._rotate_right(gparent, trace)
            else:
                uncle = gparent.left
                if uncle is not None and uncle.red:
                    parent.red = uncle.red = False
                    gparent.red = True
                    if trace:
                        _emit_recolor(self, parent, uncle, gparent)
                    node = gparent
                    continue
                if node is parent.left:
                    self._rotate_right(parent, trace)
                    parent = node
                parent.red = False
                gparent.red = True
                if trace:
                    _emit_recolor(self, parent, gparent)
                self._rotate_left(gparent, trace)
            return

    def _erase_fixup(
        self, node: RBNode[K, V] | None, parent: RBNode[K, V] | None, trace: bool
    ) -> None:
        """Give back the black an erase removed from the paths through ``node``.

        ``node`` (possibly None) carries an "extra black"; ``parent`` is its parent. The
        sibling always exists: its side had the removed black too.
        """
        while node is not self._root and (node is None or not node.red):
            assert parent is not None
            if node is parent.left:
                sibling = parent.right
                assert sibling is not None
                if sibling.red:
                    # Red sibling: rotate it above the parent so the sibling becomes black.
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_left(parent, trace)
                    sibling = parent.right
                    assert sibling is not None
                far, near = sibling.right, sibling.left
                if (far is None or not far.red) and (near is None or not near.red):
                    # Black sibling with black children: take a black off both sides and
                    # move the extra black up.
                    self._paint(sibling, True, trace)
                    node, parent = parent, parent.parent
                    continue
                if far is None or not far.red:
                    assert near is not None
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_right(sibling, trace)
                    sibling = parent.right
                    assert sibling is not None
                    far = sibling.right
                assert far is not None
                self._paint(sibling, parent.red, trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_left(parent, trace)
            else:
                sibling = parent.left
                assert sibling is not None
                if sibling.red:
                    self._paint(sibling, False, trace)
                    self._paint(parent, True, trace)
                    self._rotate_right(parent, trace)
                    sibling = parent.left
                    assert sibling is not None
                far, near = sibling.left, sibling.right
                if (far is None or not far.red) and (near is None or not near.red):
                    self._paint(sibling, True, trace)
                    node, parent = parent, parent.parent
                    continue
                if far is None or not far.red:
                    assert near is not None
                    self._paint(near, False, trace)
                    self._paint(sibling, True, trace)
                    self._rotate_left(sibling, trace)
                    sibling = parent.left
                    assert sibling is not None
                    far = sibling.left
                assert far is not None
                self._paint(sibling, parent.red, trace)
                self._paint(parent, False, trace)
                self._paint(far, False, trace)
                self._rotate_right(parent, trace)
            return
        if node is not None:
            self._paint(node, False, trace)

    def _paint(self, node: RBNode[K, V], red: bool, trace: bool) -> None:
        """Set a node's colour, tracing it only if it changes (erase path, not hot)."""
        if node.red != red:
            node.red = red
            if trace:
                _emit_recolor(self, node)

    def _rotate_left(self, node: RBNode[K, V], trace: bool) -> None:
        """Lift ``node.right`` into ``node``'s place; ``node`` becomes its left child."""
        pivot = node.right
        assert pivot is not None
        moved = pivot.left
        node.right = moved
        if moved is not None:
            moved.parent = node
        self._replace_child(node, pivot)
        pivot.left = node
        node.parent = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.emit(TraceKind.TREE_ROTATE, self.name, f"left at {node.key!r}")

    def _rotate_right(self, node: RBNode[K, V], trace: bool) -> None:
        """Lift ``node.left`` into ``node``'s place; ``node`` becomes its right child."""
        pivot = node.left
        assert pivot is not None
        moved = pivot.right
        node.left = moved
        if moved is not None:
            moved.parent = node
        self._replace_child(node, pivot)
        pivot.right = node
        node.parent = pivot
        if trace:
            assert self._tracer is not None
            self._tracer.emit(TraceKind.TREE_ROTATE, self.name, f"right at {node.key!r}")

    def _replace_child(self, old: RBNode[K, V], new: RBNode[K, V] | None) -> None:
        """Hang ``new`` where ``old`` hangs from its parent (``__rb_change_child``)."""
        parent = old.parent
        if new is not None:
            new.parent = parent
        if parent is None:
            self._root = new
        elif parent.left is old:
            parent.left = new
        else:
            parent.right = new

    # --- tracing -------------------------------------------------------------------------

    def _emit_descent(
        self, key: K, parent: RBNode[K, V] | None, went_right_at: RBNode[K, V] | None
    ) -> None:
        """Trace the nodes `insert` visited, root first, rebuilt from parent pointers.

        Rebuilding after the loop keeps the tracing test out of the hot descent.
        """
        path: list[RBNode[K, V]] = []
        node = parent
        while node is not None:
            path.append(node)
            node = node.parent
        path.reverse()
        for node, below in pairwise(path):
            _emit_compare(self, key, node, "left" if below is node.left else "right")
        if path:
            last = path[-1]
            _emit_compare(self, key, last, "right" if went_right_at is last else "left")

    # --- invariants ----------------------------------------------------------------------

    def _check(self) -> None:
        """Verify every invariant; raise AssertionError saying which one broke. O(n).

        Checked: the root has no parent and is black; every child's parent pointer; no red
        node has a red child; every root-to-leaf path has the same number of black nodes;
        keys strictly increase in order (the search-tree property); the size; the cached
        leftmost node.
        """
        root = self._root
        if root is None:
            if self._size != 0:
                raise AssertionError(f"{self.name}: empty tree but size {self._size}")
            if self._leftmost is not None:
                raise AssertionError(f"{self.name}: empty tree but leftmost {self._leftmost!r}")
            return
        if root.parent is not None:
            raise AssertionError(f"{self.name}: root {root!r} has parent {root.parent!r}")
        if root.red:
            raise AssertionError(f"{self.name}: root {root!r} is red")
        count = 0
        black_height: int | None = None
        stack: list[tuple[RBNode[K, V], int]] = [(root, 0)]
        while stack:
            node, blacks = stack.pop()
            count += 1
            if count > self._size:
                raise AssertionError(
                    f"{self.name}: more nodes reachable than size {self._size} (a cycle?)"
                )
            if not node.red:
                blacks += 1
            for child in (node.left, node.right):
                if child is None:
                    if black_height is None:
                        black_height = blacks
                    elif blacks != black_height:
                        raise AssertionError(
                            f"{self.name}: black height {blacks} below {node!r}, "
                            f"{black_height} elsewhere"
                        )
                    continue
                if child.parent is not node:
                    raise AssertionError(
                        f"{self.name}: {child!r} is a child of {node!r} "
                        f"but its parent is {child.parent!r}"
                    )
                if node.red and child.red:
                    raise AssertionError(f"{self.name}: red {child!r} under red {node!r}")
                stack.append((child, blacks))
        if count != self._size:
            raise AssertionError(f"{self.name}: {count} nodes reachable, size says {self._size}")
        leftmost = root
        while leftmost.left is not None:
            leftmost = leftmost.left
        if self._leftmost is not leftmost:
            raise AssertionError(
                f"{self.name}: cached leftmost {self._leftmost!r}, actual {leftmost!r}"
            )
        previous: RBNode[K, V] | None = None
        for node in self:
            if previous is not None and not previous.key < node.key:
                raise AssertionError(
                    f"{self.name}: keys out of order: {previous.key!r} before {node.key!r}"
                )
            previous = node


def _next(node: RBNode[K, V]) -> RBNode[K, V] | None:
    """The in-order successor (``rb_next``): O(1) amortised over a whole walk."""
    if node.right is not None:
        node = node.right
        while node.left is not None:
            node = node.left
        return node
    parent = node.parent
    while parent is not None and node is parent.right:
        node, parent = parent, parent.parent
    return parent


def _emit_compare(tree: RBTree[K, V], key: K, node: RBNode[K, V], outcome: str) -> None:
    assert tree._tracer is not None
    tree._tracer.emit(TraceKind.TREE_COMPARE, tree.name, f"{key!r} vs {node.key!r}: {outcome}")


def _emit_recolor(tree: RBTree[K, V], *nodes: RBNode[K, V]) -> None:
    assert tree._tracer is not None
    for node in nodes:
        tree._tracer.emit(TraceKind.TREE_RECOLOR, tree.name, f"{node.key!r} {_colour(node.red)}")
