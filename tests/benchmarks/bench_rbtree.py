"""Benchmark: inserting random keys into `RBTree` versus `sortedcontainers.SortedDict`.

Run it with the project's interpreter::

    .venv/bin/python tests/benchmarks/bench_rbtree.py [--n 1000000] [--rounds 3]

The target is that building the interest tree (tracing off, costs still charged, as the
complexity lab runs it) takes at most 1.5x as long as ``SortedDict.__setitem__`` for the same
keys in the same process. Both are timed in the same rounds, alternating which goes first,
and the median of the rounds is compared. Times are CPU time of this process
(``time.process_time``), not wall time: on a shared machine the wall clock also counts the
time other programs hold the core, which swung single runs by 2x.

A tree whose nodes are Python objects makes CPython's cyclic collector run full collections
over every node as the tree grows; the tree now keeps its nodes in a few flat arrays, which
the collector barely walks. The headline figure keeps the collector on, because that is how
the lab runs; the same inserts are also timed with the collector paused (for both structures)
to show what the collector still costs. Results go to ``results/rbtree.json`` beside this
file.

Issue 10, second pass: the tree counts its never-used handles instead of listing them (no
int object and list slot per future node); eventpoll's gains (a packed int key, an insert
that reuses the find's descent) do not apply to bare inserts of int keys. Measured at
1,000,000 (``--n 1000000 --rounds 3``, loaded machine): collector on 10.03 s vs 4.24 s,
2.37x; paused 1.69x. Target 1.5x: NOT met. What is left is the descent itself: per level a
list read, a compare of int objects spread over the heap, an array read that makes an int.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sortedcontainers import SortedDict

from simulator.kernel.rbtree import RBTree
from simulator.kernel.trace import Tracer

TARGET_RATIO = 1.5
SEED = 20240607
RESULTS = Path(__file__).parent / "results" / "rbtree.json"


def time_rbtree(keys: list[int]) -> float:
    """CPU seconds to insert every key into a fresh tree whose tracer is off."""
    tracer = Tracer(enabled=False)
    tree: RBTree[int, int] = RBTree(tracer)
    insert = tree.insert
    start = time.process_time()
    for key in keys:
        insert(key, key)
    elapsed = time.process_time() - start
    if len(tree) != len(keys) or tracer.cost.tree_compare < len(keys):
        raise RuntimeError("the tree did not take every key")
    return elapsed


def time_sorteddict(keys: list[int]) -> float:
    """CPU seconds to set every key in a fresh SortedDict."""
    table: SortedDict[int, int] = SortedDict()
    start = time.process_time()
    for key in keys:
        table[key] = key
    elapsed = time.process_time() - start
    if len(table) != len(keys):
        raise RuntimeError("the SortedDict did not take every key")
    return elapsed


def measure(keys: list[int], rounds: int, collector: bool) -> dict[str, list[float]]:
    """Time both structures `rounds` times, alternating the order, collector on or paused."""
    runners: list[tuple[str, Callable[[list[int]], float]]] = [
        ("rbtree", time_rbtree),
        ("sorteddict", time_sorteddict),
    ]
    samples: dict[str, list[float]] = {name: [] for name, _ in runners}
    for round_no in range(rounds):
        order = runners if round_no % 2 == 0 else runners[::-1]
        for name, run in order:
            # Start every run from the same heap: the previous structure is gone and collected.
            gc.collect()
            if not collector:
                gc.disable()
            try:
                seconds = run(keys)
            finally:
                gc.enable()
            samples[name].append(seconds)
            print(f"  round {round_no + 1} {name:<10} {seconds:7.3f} s", flush=True)
    return samples


def summarise(samples: dict[str, list[float]]) -> dict[str, object]:
    rb, sd = statistics.median(samples["rbtree"]), statistics.median(samples["sorteddict"])
    return {
        "rbtree_s": samples["rbtree"],
        "sorteddict_s": samples["sorteddict"],
        "rbtree_median_s": rb,
        "sorteddict_median_s": sd,
        "ratio_median": rb / sd,
        "ratio_best": min(samples["rbtree"]) / min(samples["sorteddict"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=1_000_000, help="number of keys")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per structure")
    args = parser.parse_args(argv)

    keys = random.Random(SEED).sample(range(10**9), args.n)
    report: dict[str, object] = {
        "benchmark": "insert random int keys: RBTree (tracing off) vs SortedDict.__setitem__",
        "n": args.n,
        "seed": SEED,
        "rounds": args.rounds,
        "target_ratio": TARGET_RATIO,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "timer": "time.process_time (CPU seconds of this process)",
    }
    for label, collector in (("gc_on", True), ("gc_paused", False)):
        print(f"{args.n:,} inserts, garbage collector {'on' if collector else 'paused'}:")
        result = summarise(measure(keys, args.rounds, collector))
        report[label] = result
        print(
            f"  median: RBTree {result['rbtree_median_s']:.3f} s, "
            f"SortedDict {result['sorteddict_median_s']:.3f} s, "
            f"ratio {result['ratio_median']:.2f}x (best-of ratio {result['ratio_best']:.2f}x)"
        )
    gc_on = report["gc_on"]
    assert isinstance(gc_on, dict)
    report["target_met"] = gc_on["ratio_median"] <= TARGET_RATIO
    print(
        f"target {TARGET_RATIO}x with the collector on: "
        f"{'met' if report['target_met'] else 'NOT met'}"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
