"""The interest-list tree (`simulator.kernel.rbtree`) against `sortedcontainers.SortedDict`.

Every operation is followed by `RBTree._check`, so a broken invariant is caught at the step
that broke it. The state machine drives three trees side by side with the same steps: one
without a tracer, one with tracing off and one with tracing on, because tracing takes different
branches through the rebalancing code.

Everything here runs twice: on the module the import gives (compiled by mypyc when the install
built it, see setup.py) and on the source file loaded as a module of its own (`PURE`), and
`test_compiled_and_pure_trees_agree_on_every_result_cost_and_event` runs both side by side.
"""

from __future__ import annotations

import doctest
import math
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sortedcontainers import SortedDict

from simulator.kernel import load_source, rbtree
from simulator.kernel.rbtree import RBNode, RBTree
from simulator.kernel.trace import TraceKind, Tracer

#: The tree's source file as a module of its own, beside whatever the import gave `rbtree`.
PURE = load_source("simulator.kernel.rbtree", "simulator.kernel._rbtree_source")
IMPLEMENTATIONS = [rbtree, PURE]
IDS = ["compiled" if rbtree.COMPILED else "imported", "source"]


@pytest.fixture(params=IMPLEMENTATIONS, ids=IDS)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each implementation of the tree in turn (a module with `RBTree`, `RBNode`, ...)."""
    module: ModuleType = request.param
    return module


# A small key range makes duplicates, erasing the root and emptying the tree common.
keys = st.integers(min_value=0, max_value=60)


class Variant:
    """One tree of the machine, with its tracer ("none": no tracer; "off": a tracer that is
    not enabled; "on": tracing) and its nodes (by key) and erased nodes, in erasing order."""

    def __init__(self, module: ModuleType, tracer_mode: str) -> None:
        self.tracer = None if tracer_mode == "none" else Tracer(tracer_mode == "on")
        self.tree: RBTree[int, str] = module.RBTree(self.tracer)
        self.nodes: dict[int, RBNode[int, str]] = {}
        self.erased: list[RBNode[int, str]] = []

    def compares(self) -> int:
        return 0 if self.tracer is None else self.tracer.cost.tree_compare


class TreeMachine(RuleBasedStateMachine):
    """Insert, find and erase on RBTrees and a SortedDict; they must always agree.

    The trees are one per tracer mode, all driven by the same steps: each mode sees every
    example (hypothesis's own work per step, most of this machine's time, is paid once for
    the three instead of once for each, as three machines did)."""

    module: ModuleType = rbtree  # the implementation under test

    def __init__(self) -> None:
        super().__init__()
        self.variants = [Variant(self.module, mode) for mode in ("none", "off", "on")]
        self.model: SortedDict[int, str] = SortedDict()

    @rule(key=keys)
    def insert(self, key: int) -> None:
        for v in self.variants:
            path = v.tree.lookup_path(key)
            before = v.compares()
            if key in self.model:
                with pytest.raises(KeyError):
                    v.tree.insert(key, f"again {key}")
                continue
            node = v.tree.insert(key, f"v{key}")
            v.nodes[key] = node
            assert (node.key, node.value) == (key, f"v{key}")
            if v.tracer is not None:
                # One comparison per node on the descent: the lookup path of an absent key.
                assert v.tracer.cost.tree_compare - before == len(path)
        self.model.setdefault(key, f"v{key}")

    @rule(key=keys)
    def find(self, key: int) -> None:
        for v in self.variants:
            before = v.compares()
            node = v.tree.find(key)
            path = v.tree.lookup_path(key)
            if key in self.model:
                assert node == v.nodes[key]
                assert path[-1] == node
            else:
                assert node is None
            if v.tracer is not None:
                assert v.tracer.cost.tree_compare - before == len(path)

    @rule(key=keys)
    def find_then_insert(self, key: int) -> None:
        """eventpoll's order (ep_find, then ep_insert): an untraced insert starts where the
        find's descent ended, and must still build and charge exactly what a fresh one does."""
        self.find(key)
        self.insert(key)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def erase(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(list(self.model)))
        for v in self.variants:
            node = v.nodes.pop(key)
            before = v.compares()
            v.tree.erase(node)
            v.erased.append(node)
            assert v.compares() == before, "erasing compares no keys"
        del self.model[key]

    @precondition(lambda self: bool(self.variants[0].erased))
    @rule(data=st.data())
    def erase_again(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.variants[0].erased) - 1))
        for v in self.variants:
            with pytest.raises(ValueError, match="already erased"):
                v.tree.erase(v.erased[index])

    @invariant()
    def agrees_with_model(self) -> None:
        for v in self.variants:
            v.tree._check()
            assert list(v.tree.keys()) == list(self.model)
            assert [node.value for node in v.tree] == list(self.model.values())
            assert len(v.tree) == len(self.model)
            first = v.tree.first()
            assert (first.key if first else None) == (self.model.keys()[0] if self.model else None)
            assert (v.tree.root is None) == (not self.model)
            assert v.tree.height() <= 2 * math.log2(len(self.model) + 1)
            if v.tracer is not None and not v.tracer.enabled:
                assert v.tracer.events == []


class PureTreeMachine(TreeMachine):
    module = PURE


TestTree = TreeMachine.TestCase
TestTree.settings = settings(max_examples=100, stateful_step_count=60, deadline=None)
# The source again, with half the examples (the side-by-side test below covers the rest).
TestPureTree = PureTreeMachine.TestCase
TestPureTree.settings = settings(TestTree.settings, max_examples=50)


def test_seeded_random_operations_keep_every_invariant(impl: ModuleType) -> None:
    """A long seeded sequence, bigger than hypothesis explores, checked after every step."""
    rng = random.Random(20240607)
    tree: RBTree[int, int] = impl.RBTree(Tracer(enabled=False))
    model: SortedDict[int, int] = SortedDict()
    nodes: dict[int, RBNode[int, int]] = {}
    for step in range(3000):
        key = rng.randrange(400)
        if key in model and rng.random() < 0.6:
            tree.erase(nodes.pop(key))
            del model[key]
        elif key not in model:
            nodes[key] = tree.insert(key, step)
            model[key] = step
        tree._check()
        assert list(tree.keys()) == list(model), f"diverged at step {step}"


def events(tracer: Tracer) -> list[tuple[TraceKind, str]]:
    return [(event.kind, event.detail) for event in tracer.events]


def test_ascending_inserts_trace_the_exact_rebalancing(impl: ModuleType) -> None:
    tracer = Tracer()
    tree: RBTree[int, None] = impl.RBTree(tracer, name="ep.rbr")
    tree.insert(1, None)
    assert events(tracer) == [
        (TraceKind.TREE_INSERT, "1"),
        (TraceKind.TREE_RECOLOR, "1 black"),  # the root is always black
    ]
    tracer.begin_call("epoll_ctl")
    tree.insert(2, None)
    assert events(tracer)[1:] == [
        (TraceKind.TREE_COMPARE, "2 vs 1: right"),
        (TraceKind.TREE_INSERT, "2"),
    ]
    tracer.begin_call("epoll_ctl")
    tree.insert(3, None)
    assert events(tracer)[1:] == [
        (TraceKind.TREE_COMPARE, "3 vs 1: right"),
        (TraceKind.TREE_COMPARE, "3 vs 2: right"),
        (TraceKind.TREE_INSERT, "3"),
        (TraceKind.TREE_RECOLOR, "2 black"),
        (TraceKind.TREE_RECOLOR, "1 red"),
        (TraceKind.TREE_ROTATE, "left at 1"),
    ]
    assert {event.where for event in tracer.events[1:]} == {"ep.rbr"}
    assert tracer.cost.tree_compare == 2
    root = tree.root
    assert root is not None and root.key == 2 and not root.red
    assert root.left is not None and root.left.key == 1 and root.left.red
    assert root.right is not None and root.right.key == 3 and root.right.red


def test_zig_zag_insert_rotates_twice(impl: ModuleType) -> None:
    tracer = Tracer()
    tree: RBTree[int, None] = impl.RBTree(tracer)
    tree.insert(3, None)
    tree.insert(1, None)
    tracer.begin_call("epoll_ctl")
    tree.insert(2, None)
    rotations = [e.detail for e in tracer.events if e.kind is TraceKind.TREE_ROTATE]
    assert rotations == ["left at 1", "right at 3"]
    assert [node.key for node in tree] == [1, 2, 3]
    assert tree.root is not None and tree.root.key == 2


def test_many_ascending_inserts_stay_balanced(impl: ModuleType) -> None:
    tracer = Tracer(enabled=False)
    tree: RBTree[int, None] = impl.RBTree(tracer)
    n = 1000
    for key in range(n):
        tree.insert(key, None)
    tree._check()
    assert tree.height() <= 2 * math.log2(n + 1)
    # An unbalanced tree would need n(n-1)/2 comparisons for ascending inserts.
    assert tracer.cost.tree_compare < n * 2 * math.log2(n + 1)
    assert tracer.events == []


def test_find_traces_one_compare_per_visited_node(impl: ModuleType) -> None:
    tracer = Tracer()
    tree: RBTree[int, str] = impl.RBTree(tracer)
    for key in (50, 20, 80, 10, 30):
        tree.insert(key, str(key))
    tracer.begin_call("epoll_ctl")
    node = tree.find(30)
    assert node is not None and node.value == "30"
    assert [node.key for node in tree.lookup_path(30)] == [50, 20, 30]
    assert events(tracer)[1:] == [
        (TraceKind.TREE_COMPARE, "30 vs 50: left"),
        (TraceKind.TREE_COMPARE, "30 vs 20: right"),
        (TraceKind.TREE_COMPARE, "30 vs 30: found"),
    ]
    assert tracer.cost.tree_compare == 3
    tracer.begin_call("epoll_ctl")
    assert tree.find(25) is None
    assert tracer.cost.tree_compare == 3  # 50, 20, 30, then the empty left of 30


def test_lookup_path_of_an_absent_key_ends_at_its_future_parent(impl: ModuleType) -> None:
    tree: RBTree[int, None] = impl.RBTree()
    for key in (50, 20, 80, 10, 30, 90):
        tree.insert(key, None)
    path = tree.lookup_path(60)
    assert [node.key for node in path] == [50, 80]
    node = tree.insert(60, None)  # under a black parent: no rebalancing moves it
    assert node.parent == path[-1]
    assert path[-1].left == node
    assert impl.RBTree().lookup_path(1) == []


def test_an_insert_after_a_find_builds_and_charges_what_a_fresh_insert_does(
    impl: ModuleType,
) -> None:
    rng = random.Random(7)
    keys_ = rng.sample(range(100_000), 2_000)
    plain_tracer, reusing_tracer = Tracer(False), Tracer(False)
    plain: RBTree[int, int] = impl.RBTree(plain_tracer)
    reusing: RBTree[int, int] = impl.RBTree(reusing_tracer)
    for key in keys_:
        plain.insert(key, key)
        before = reusing_tracer.cost.tree_compare
        assert reusing.find(key) is None
        found = reusing_tracer.cost.tree_compare
        reusing.insert(key, key)
        assert reusing_tracer.cost.tree_compare - found == found - before  # the same descent
    reusing._check()
    shape = [(node.key, node.red, getattr(node.parent, "key", None)) for node in plain]
    assert [(node.key, node.red, getattr(node.parent, "key", None)) for node in reusing] == shape
    assert reusing_tracer.cost.tree_compare == 2 * plain_tracer.cost.tree_compare


def test_a_traced_insert_after_a_find_records_what_a_fresh_insert_does(impl: ModuleType) -> None:
    plain_tracer, reusing_tracer = Tracer(), Tracer()
    plain: RBTree[int, int] = impl.RBTree(plain_tracer)
    reusing: RBTree[int, int] = impl.RBTree(reusing_tracer)
    for key in random.Random(8).sample(range(10_000), 300):
        plain_tracer.begin_call("insert")
        plain.insert(key, key)
        assert reusing.find(key) is None
        reusing_tracer.begin_call("insert")
        reusing.insert(key, key)
        fields = [[e[2:] for e in t.events[1:]] for t in (plain_tracer, reusing_tracer)]
        assert fields[0] == fields[1] and plain_tracer.cost == reusing_tracer.cost


def test_duplicate_insert_raises_and_changes_nothing(impl: ModuleType) -> None:
    tree: RBTree[int, str] = impl.RBTree()
    for key in (2, 1, 3):
        tree.insert(key, "first")
    for key in (1, 2, 3):
        with pytest.raises(KeyError):
            tree.insert(key, "second")
    tree._check()
    assert [(node.key, node.value) for node in tree] == [(1, "first"), (2, "first"), (3, "first")]


def test_erase_traces_and_keeps_other_nodes_valid(impl: ModuleType) -> None:
    tracer = Tracer()
    tree: RBTree[int, str] = impl.RBTree(tracer, name="rbr")
    nodes = {key: tree.insert(key, str(key)) for key in range(10)}
    tracer.begin_call("epoll_ctl")
    tree.erase(nodes[3])  # an inner node with two children
    assert tracer.events[1].kind is TraceKind.TREE_ERASE
    assert tracer.events[1].detail == "3"
    assert tracer.cost.tree_compare == 0
    tree._check()
    for key, node in nodes.items():
        if key != 3:
            assert tree.find(key) == node
    assert nodes[3].parent == nodes[3]  # RB_CLEAR_NODE


def test_erasing_the_leftmost_updates_first(impl: ModuleType) -> None:
    tree: RBTree[int, None] = impl.RBTree()
    nodes = [tree.insert(key, None) for key in (5, 3, 8, 1, 4)]
    assert tree.first() == nodes[3]
    tree.erase(nodes[3])
    first = tree.first()
    assert first is not None and first.key == 3
    tree._check()


def test_erasing_a_node_of_another_tree_is_refused(impl: ModuleType) -> None:
    mine: RBTree[int, None] = impl.RBTree(name="mine")
    theirs: RBTree[int, None] = impl.RBTree(name="theirs")
    mine.insert(1, None)
    stranger = theirs.insert(1, None)
    with pytest.raises(ValueError, match="not in mine"):
        mine.erase(stranger)
    mine._check()
    theirs._check()
    assert len(mine) == len(theirs) == 1


def test_packed_keys_order_by_file_then_fd(impl: ModuleType) -> None:
    """eventpoll's key (EP-2), packed in one int: the file first, then the fd number."""
    tree: RBTree[int, str] = impl.RBTree()
    for file, fd in ((2, 5), (1, 9), (2, 3), (1, 4)):
        tree.insert(file << 32 | fd, "epi")
    keys_ = list(tree.keys())
    assert [(key >> 32, key & 0xFFFF_FFFF) for key in keys_] == [(1, 4), (1, 9), (2, 3), (2, 5)]
    assert tree.find(2 << 32 | 3) is not None
    assert tree.find(3 << 32 | 2) is None
    tree._check()


def test_keys_the_node_array_cannot_hold_are_refused_before_any_change(impl: ModuleType) -> None:
    """Keys live in an ``array('q')``: an int outside 64 bits, or no int at all, is refused
    with the array's own error, on an empty tree and on a full one, and nothing changes."""
    for size in (0, 1, 40):
        tree: RBTree[int, str] = impl.RBTree(Tracer(enabled=False))
        for key in range(size):
            tree.insert(key, "v")
        with pytest.raises(OverflowError):
            tree.insert(1 << 63, "too big")
        with pytest.raises(OverflowError):
            tree.insert(-(1 << 63) - 1, "too small")
        with pytest.raises(TypeError):
            tree.insert(2.5, "a float")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tree.insert((1, 2), "a pair")  # type: ignore[arg-type]
        tree._check()
        assert list(tree.keys()) == list(range(size))
    edges: RBTree[int, None] = impl.RBTree()
    for key in ((1 << 63) - 1, -(1 << 63), 0):
        edges.insert(key, None)
    assert list(edges.keys()) == [-(1 << 63), 0, (1 << 63) - 1]
    edges._check()


def test_tracing_off_still_charges_costs(impl: ModuleType) -> None:
    tracer = Tracer(enabled=False)
    tree: RBTree[int, None] = impl.RBTree(tracer)
    for key in (2, 1, 3):
        tree.insert(key, None)
    assert tracer.cost.tree_compare == 2
    tree.find(3)
    assert tracer.cost.tree_compare == 4
    assert tracer.events == []


def test_check_detects_broken_invariants(impl: ModuleType) -> None:
    # Nodes are views: the corruption is written straight into the tree's arrays, by handle.
    def fresh() -> tuple[RBTree[int, None], list[int]]:
        tree: RBTree[int, None] = impl.RBTree()
        return tree, [tree.insert(key, None)._handle for key in range(7)]

    tree, handles = fresh()
    tree._check()
    assert tree.root is not None
    tree._red[tree._root] = True
    with pytest.raises(AssertionError, match=r"root .* is red"):
        tree._check()

    tree, handles = fresh()
    leaf = handles[6]
    assert tree._red[leaf] and tree._node[leaf + 3]
    tree._red[tree._node[leaf + 3]] = True
    with pytest.raises(AssertionError, match=r"red .* under red|black height"):
        tree._check()

    tree, handles = fresh()
    first, last = handles[0], handles[6]
    tree._node[first], tree._node[last] = tree._node[last], tree._node[first]  # the keys
    with pytest.raises(AssertionError, match="out of order"):
        tree._check()

    tree, handles = fresh()
    tree._node[handles[6] + 3] = handles[0]  # the parent link
    with pytest.raises(AssertionError, match="parent"):
        tree._check()

    tree, handles = fresh()
    tree._size += 1
    with pytest.raises(AssertionError, match="size"):
        tree._check()

    tree, handles = fresh()
    tree._free.append(handles[3])
    with pytest.raises(AssertionError, match="free list"):
        tree._check()

    tree, handles = fresh()
    tree._fresh += impl.STRIDE  # a handle handed out to nobody
    with pytest.raises(AssertionError, match="leak"):
        tree._check()


def test_a_reused_handle_does_not_revive_an_erased_node(impl: ModuleType) -> None:
    """Erased slots are reused; the old node's view must stay erased, not alias the new one."""
    tree: RBTree[int, str] = impl.RBTree()
    old = tree.insert(1, "old")
    tree.erase(old)
    new = tree.insert(1, "new")
    assert new._handle == old._handle  # the free list handed the slot out again
    assert old.erased and not new.erased and old != new
    assert old.parent == old and old.left is None and old.right is None
    with pytest.raises(ValueError, match="erased"):
        _ = old.value
    with pytest.raises(ValueError, match="already erased"):
        tree.erase(old)
    assert tree.find(1) == new and new.value == "new"
    tree._check()


def test_doctests(impl: ModuleType) -> None:
    # The examples are read from the source (a compiled module keeps no docstrings doctest
    # finds) and run with `impl`'s names.
    result = doctest.testmod(PURE, extraglobs=vars(impl))
    assert result.failed == 0 and result.attempted > 0


def _shape(tree: RBTree[int, int]) -> tuple[object, ...]:
    """Everything a caller can see of a tree: its nodes, links, colours and handles."""
    nodes = [
        (node.key, node.value, node.red, node.handle, getattr(node.parent, "key", None))
        for node in tree
    ]
    return nodes, len(tree), tree.height(), getattr(tree.first(), "key", None)


def test_compiled_and_pure_trees_agree_on_every_result_cost_and_event() -> None:
    """The same seeded inserts, finds (eventpoll's find-then-insert too) and erases on both
    implementations, traced and not: the same answers, shapes, costs and trace events."""
    for traced in (False, True):
        rng = random.Random(20261203 + traced)
        trees, tracers = [], []
        for module in IMPLEMENTATIONS:
            tracer = Tracer(enabled=traced)
            tracers.append(tracer)
            trees.append(module.RBTree(tracer, "ep.rbr"))
        nodes: list[dict[int, RBNode[int, int]]] = [{}, {}]
        for step in range(1000):
            key = rng.randrange(150) << 32 | rng.randrange(4)
            action = rng.random()
            answers: list[object] = []
            for tree, tracer, held in zip(trees, tracers, nodes, strict=True):
                tracer.begin_call("step")
                if key in held and action < 0.5:
                    tree.erase(held.pop(key))
                    answers.append("erased")
                elif key in held:
                    answers.append(("found", getattr(tree.find(key), "handle", None)))
                else:
                    if action < 0.7:
                        assert tree.find(key) is None
                    held[key] = tree.insert(key, step)
                    answers.append(("inserted", held[key].handle))
            assert answers[0] == answers[1], f"step {step}"
            assert tracers[0].cost == tracers[1].cost, f"step {step}"
            assert [tuple(e) for e in tracers[0].events] == [tuple(e) for e in tracers[1].events]
            if step % 50 == 0:
                assert _shape(trees[0]) == _shape(trees[1]), f"step {step}"
        assert _shape(trees[0]) == _shape(trees[1])
        for tree in trees:
            tree._check()


def test_the_import_says_which_tree_runs_and_the_variable_forces_the_source() -> None:
    """`COMPILED` matches the file the import took; MUXLAB_PURE_PYTHON=1 takes rbtree.py."""
    imported, source = str(rbtree.__file__), str(PURE.__file__)
    assert (not imported.endswith("rbtree.py")) == rbtree.COMPILED
    assert PURE.COMPILED is False and source.endswith("rbtree.py")
    probe = "import simulator.kernel.rbtree as r; print(r.COMPILED, r.__file__)"
    for forced, expected in (("1", "False"), ("", str(rbtree.COMPILED))):
        env = {**os.environ, "MUXLAB_PURE_PYTHON": forced}
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=Path(source).parents[2],  # the project: the same `simulator` package
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out[0] == expected, out
        assert out[1].endswith("rbtree.py") == (expected == "False"), out


def _compiled_or_skip() -> None:
    """The tests below need the extension the install compiles; under CI it must be there."""
    if not rbtree.COMPILED:
        if os.environ.get("CI"):
            pytest.fail("the install did not compile the tree (pip install -v shows why)")
        pytest.skip("the tree is not compiled here (no C compiler at install time)")


def test_under_ci_the_install_compiled_the_tree() -> None:
    _compiled_or_skip()
    assert not str(rbtree.__file__).endswith(".py")


def test_an_edit_of_the_source_since_the_install_runs_the_source(tmp_path: Path) -> None:
    """A copy of the package with its extension: taken while it is newer than rbtree.py, and
    the source taken once rbtree.py is newer (compiled code of an older source would be wrong,
    silently)."""
    _compiled_or_skip()
    package = Path(PURE.__file__ or "").parents[1]
    shutil.copytree(package, tmp_path / "simulator", ignore=shutil.ignore_patterns("__pycache__"))
    kernel = tmp_path / "simulator" / "kernel"
    extension = next(kernel.glob("rbtree.*.so"))
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
        "import simulator.kernel.rbtree as r; print(r.COMPILED, r.__file__)"
    )

    def taken() -> list[str]:
        return subprocess.run(
            [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()

    built = extension.stat().st_mtime
    os.utime(kernel / "rbtree.py", (built - 60, built - 60))
    compiled, path = taken()
    assert compiled == "True" and path.startswith(str(tmp_path)), (compiled, path)
    os.utime(kernel / "rbtree.py", (built + 60, built + 60))
    compiled, path = taken()
    assert compiled == "False" and path == str(kernel / "rbtree.py"), (compiled, path)
