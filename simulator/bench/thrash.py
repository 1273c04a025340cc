"""Thrashing and per-core loops: where a server's CPU time goes as the arrival rate rises.

Three server shapes handle one-byte requests arriving over TCP, on `cpus` CPUs:

- ``threads``: one thread per connection, asleep in a blocking ``recv``; each request wakes it.
- ``pool``: one event loop (``epoll_wait``) reads each request and hands it to a worker thread
  of a pool (a byte on a socket pair the worker sleeps on), which does the work and replies.
- ``percore``: one event loop per CPU, each with its own connections (what ``SO_REUSEPORT``
  gives a server: the kernel spreads connections over the loops' listening sockets), doing
  the work itself.

Two halves, kept apart so that the figures are deterministic given the machine's costs:

1. **Counts, from the model.** `model_counts` runs each shape on `ModelKernel` (with `cpus`
   simulated CPUs) for one request arriving at an idle server and for a batch of `BATCH`
   requests arriving at a busy one, and counts per request what the model counts: interrupts
   (its loopback NIC's ``irqs``), context switches (its scheduler's ``context_switches``) and
   the server's system calls. The model is deterministic, so the counts are exact.
2. **Costs, from the machine.** `MachineCosts` holds the nanoseconds of a null syscall and of a
   context switch, measured in the live child (`simulator.live._measure.machine_costs`), and
   of an interrupt, which user space cannot time: that one is *modelled* (`INTERRUPT_NS`), and
   every figure says so (`Cost.source`).

`point` is the arithmetic that joins them, for one shape at one arrival rate: interrupts are
served first, for every request that arrives, handled or not (an interrupt preempts whatever
runs: there is no NAPI-style polling in this model), so at a rate r they take r x (interrupts
per request) x (interrupt ns) of the CPUs' time. The rest goes to requests, each costing its
switches, its syscalls and the useful work (`work_ns`). At low rates every request is handled
and the server idles in between (the idle counts: a loop sleeps after each request); as the
rate rises a loop finds more requests per wake-up (`counts_at`: its wake-up is shared), up to
`BATCH`; past the knee even that cannot keep up, and the server handles what the time left
allows. A thread per connection cannot batch: each thread has one connection. As the rate
keeps rising the
interrupts take more of the CPUs and the handled requests *fall*: receive livelock, reaching
zero when interrupts alone fill every CPU. The pool's loop is one thread: what it does per
request must also fit in one CPU.

Cost: `model_counts` runs each shape once per regime on a fresh model (a few dozen calls);
`point` is O(1).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.bench.plan import DEFAULT_RATES, DEFAULT_WORK_NS

if TYPE_CHECKING:  # imported where used: the parser reads the defaults (in `plan`) without it
    from simulator.kernel import ModelKernel

#: The server shapes, in plot order, with what the plots call them.
SHAPES: dict[str, str] = {
    "threads": "thread per connection",
    "pool": "event loop + thread pool",
    "percore": "event loop per core (SO_REUSEPORT)",
}
#: Requests an event loop's ``epoll_wait`` returns at once when it is busy (its maxevents).
BATCH = 64
#: The modelled cost of one interrupt, its handler and its NET_RX softirq, in ns: the order of
#: magnitude of one packet's receive interrupt on Linux without interrupt coalescing. User
#: space cannot time an interrupt, so this one is an assumption, labelled as such.
INTERRUPT_NS = 1_000.0
INTERRUPT_SOURCE = "modelled: one packet's hard interrupt and NET_RX softirq (not measurable here)"

DEFAULT_REPEAT = 21
#: At most this many CPUs: a process has at most 64 threads in the model, so more CPUs could
#: never all run a loop of their own.
MAX_CPUS = 64


class ThrashError(ValueError):
    """A thrashing plan that cannot run; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Cost:
    """One operation's cost in ns, and where the figure comes from (``measured: ...`` or
    ``modelled: ...``)."""

    ns: float
    source: str

    @property
    def measured(self) -> bool:
        return self.source.startswith("measured")


@dataclass(frozen=True, slots=True)
class MachineCosts:
    """The per-operation costs `point` charges."""

    syscall: Cost
    switch: Cost
    interrupt: Cost

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the first line of ``muxlab lab thrash --json``."""
        return {
            "plot": "thrash-costs",
            **{
                f"{name}_{part}": getattr(getattr(self, name), part)
                for name in ("syscall", "switch", "interrupt")
                for part in ("ns", "source")
            },
        }

    @classmethod
    def from_bench(cls, measured: dict[str, Any]) -> MachineCosts:
        """The costs of a `LabBench.costs` answer: a null syscall as timed; a context switch as
        half a ping-pong round trip less the write and read each half makes (`pipe_pair_ns`),
        floored at a null syscall when the machine's noise hides it; the interrupt modelled."""
        syscall = float(measured["syscall_ns"])
        switch = measured["pingpong_ns"] / 2 - measured["pipe_pair_ns"]
        how = (
            "measured: half a pipe ping-pong round trip between two threads "
            + ("pinned to one CPU" if measured["pinned"] else "(not pinned: cross-CPU wake-ups)")
            + ", less its write and read"
        )
        if switch < syscall:
            switch, how = syscall, how + " (within noise: floored at a null syscall)"
        return cls(
            Cost(syscall, "measured: getppid() in a loop in the live child"),
            Cost(float(switch), how),
            Cost(INTERRUPT_NS, INTERRUPT_SOURCE),
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """What the model counts per request in one regime of a shape: `interrupts`, context
    `switches` and `syscalls` of the whole server, and of its serial part (`loop_switches`,
    `loop_syscalls`: the pool's one loop thread; zero for shapes with no serial part)."""

    interrupts: float
    switches: float
    syscalls: float
    loop_switches: float = 0.0
    loop_syscalls: float = 0.0


@dataclass(frozen=True, slots=True)
class ThrashPlan:
    """The arrival `rates` (requests per second) swept against every shape in `shapes`, on
    `cpus` CPUs, each request `work_ns` of useful work; `repeat` samples per measured cost."""

    shapes: tuple[str, ...] = tuple(SHAPES)
    rates: tuple[int, ...] = DEFAULT_RATES
    cpus: int = 2
    work_ns: int = DEFAULT_WORK_NS
    repeat: int = DEFAULT_REPEAT

    def checked(self) -> ThrashPlan:
        """This plan with rates sorted and deduplicated; ThrashError if it cannot run."""
        unknown = [s for s in self.shapes if s not in SHAPES]
        if unknown or not self.shapes:
            what = f"unknown shape {unknown[0]!r}" if unknown else "no shape given"
            raise ThrashError(f"{what}: choose from {', '.join(SHAPES)}")
        if not self.rates:
            raise ThrashError("--rates needs at least one number")
        bad = [r for r in self.rates if r < 1]
        if bad:
            raise ThrashError(f"--rates must be 1 or more requests per second, got {bad[0]}")
        if not 1 <= self.cpus <= MAX_CPUS:
            raise ThrashError(f"--cpus must be 1 to {MAX_CPUS}, got {self.cpus}")
        if self.work_ns < 1:
            raise ThrashError(f"--work must be 1 ns or more, got {self.work_ns}")
        if self.repeat < 1:
            raise ThrashError(f"--repeat must be 1 or more, got {self.repeat}")
        return ThrashPlan(
            tuple(dict.fromkeys(self.shapes)),
            tuple(sorted(set(self.rates))),
            self.cpus,
            self.work_ns,
            self.repeat,
        )

    @property
    def points(self) -> int:
        """How many points the sweep yields."""
        return len(self.shapes) * len(self.rates)


@dataclass(frozen=True, slots=True)
class ThrashPoint:
    """One shape at one arrival `rate`: the requests it handles per second (`throughput`) and
    where its CPUs' second goes, in ns (`interrupt_ns`, `switch_ns`, `syscall_ns`, `work_ns`,
    `idle_ns`: they add up to `cpus` x 1e9). `overloaded` says the server is past its knee
    (it cannot take every request); `batch` is requests per wake-up of a loop (`counts_at`);
    `counts` the model's counts per request used; `costs` the machine's."""

    shape: str
    rate: int
    cpus: int
    throughput: float
    interrupt_ns: float
    switch_ns: float
    syscall_ns: float
    work_ns: float
    idle_ns: float
    overloaded: bool
    batch: float
    counts: Counts
    costs: MachineCosts

    def as_json(self) -> dict[str, Any]:
        """The JSON object of one line of ``muxlab lab thrash --json``."""
        names = _POINT_FIELDS
        return {
            "plot": "thrash",
            **{name: getattr(self, name) for name in names},
            **{f"per_request_{k}": v for k, v in _fields(self.counts).items()},
        }


#: A point's fields in its JSON line, beside its counts.
_POINT_FIELDS = (
    *("shape", "rate", "cpus", "throughput", "interrupt_ns", "switch_ns", "syscall_ns"),
    *("work_ns", "idle_ns", "overloaded", "batch"),
)


def _fields(counts: Counts) -> dict[str, float]:
    return {name: getattr(counts, name) for name in Counts.__slots__}


def model_counts(shape: str, cpus: int, batch: int) -> Counts:
    """The model's counts per request for `shape` on `cpus` CPUs, when `batch` requests arrive
    together (1: at an idle server; `BATCH`: at a busy one). Deterministic.

    Every shape's server is built on a fresh `ModelKernel`, its threads put to sleep where they
    wait, then the requests arrive (the client's one-byte sends, thread 0's calls: they are the
    network, not the server, and their interrupts are the arrival's) and the server handles
    them with the calls its program makes, each counted. A thread that runs a call which does
    not block is not switched to (thread 0 makes that call for it): a running thread keeps its
    CPU; the model's scheduler counts the switches of the threads that slept. ``percore``'s
    counts are one loop's: every loop serves its own connections the same way (the model has
    no ``SO_REUSEPORT``; each loop's connections are simply its own).
    """
    from simulator.kernel import ModelKernel

    k = ModelKernel(cpus=cpus, trace=False)
    listener = k.tcp_listen(max(128, batch))
    clients, servers = [], []
    for _ in range(batch):
        clients.append(k.tcp_connect(listener))
        servers.append(k.accept(listener))
    if shape == "threads":
        return _threads(k, clients, servers)
    if shape in ("pool", "percore"):
        return _loop(k, clients, servers, pool=shape == "pool")
    raise ValueError(f"unknown shape {shape!r}")


class _Meter:
    """The model's interrupts and context switches since it was made, and the server's calls."""

    def __init__(self, k: ModelKernel) -> None:
        self.k = k
        self.irqs = k.nic.irqs
        self.switches = k.sched.context_switches
        self.syscalls = 0

    def arrive(self, clients: list[int]) -> int:
        """The requests arrive: one byte on each client socket. Returns the interrupts."""
        before = self.k.nic.irqs
        for client in clients:
            self.k.send(client, 1)
        return self.k.nic.irqs - before

    def per(self, requests: int, interrupts: int, **loop: int) -> Counts:
        switches = self.k.sched.context_switches - self.switches
        return Counts(
            interrupts / requests,
            switches / requests,
            self.syscalls / requests,
            **{name: value / requests for name, value in loop.items()},
        )


def _threads(k: ModelKernel, clients: list[int], servers: list[int]) -> Counts:
    """One thread per connection: asleep in recv; woken, it reads and replies (2 syscalls)."""
    tids = []
    for server in servers:
        k.set_blocking(server, True)
        tid = k.spawn_thread()
        k.start(tid, "recv", server, 1)
        tids.append(tid)
    meter = _Meter(k)
    interrupts = meter.arrive(clients)
    for tid, server in zip(tids, servers, strict=True):
        if k.join(tid) != 1:
            raise RuntimeError("a thread's recv did not read its request")  # a bug of ours
        k.send(server, 1)  # the reply, made by the thread: it is running
        meter.syscalls += 2
    return meter.per(len(servers), interrupts)


def _loop(k: ModelKernel, clients: list[int], servers: list[int], *, pool: bool) -> Counts:
    """One event loop over the connections; with `pool`, each request is handed to a worker
    (asleep in recv on a socket pair) which replies, else the loop replies itself.

    The loop waits in epoll_wait before the requests arrive when one comes (an idle server: it
    sleeps and is woken), after they arrived when a batch comes (a busy server: it comes back
    to epoll_wait to find them queued). So does the worker on its hand-off socket.
    """
    # here, not at the top: `muxlab` reads this module's defaults every time it starts
    from simulator import uapi

    batch = len(servers)
    epfd = k.epoll_create()
    for server in servers:
        k.epoll_ctl(epfd, uapi.EPOLL_CTL_ADD, server, uapi.EPOLLIN)
    hand_in, hand_out = k.socketpair()
    k.set_blocking(hand_out, True)
    loop_tid, worker_tid = k.spawn_thread(), k.spawn_thread()
    idle = batch == 1
    if idle:
        k.start(loop_tid, "epoll_wait", epfd, BATCH, -1)
        if pool:
            k.start(worker_tid, "recv", hand_out, 1)
    meter = _Meter(k)  # a sleeping thread's switch out is counted by its previous request
    before_loop = k.sched.context_switches
    interrupts = meter.arrive(clients)
    if not idle:
        k.start(loop_tid, "epoll_wait", epfd, BATCH, -1)
    events = k.join(loop_tid)
    loop_switches = k.sched.context_switches - before_loop
    assert isinstance(events, list)
    if len(events) != batch:
        raise RuntimeError("the loop's epoll_wait did not find every request")  # a bug of ours
    loop_calls = 1
    for fd, _mask in events:
        k.recv(fd, 1)
        loop_calls += 1
        if pool:
            k.send(hand_in, 1)  # the hand-off: wakes a sleeping worker
            loop_calls += 1
    meter.syscalls = loop_calls
    if pool:
        if not idle:
            k.start(worker_tid, "recv", hand_out, batch)  # a busy worker takes the queue
        if k.join(worker_tid) != batch:
            raise RuntimeError("the worker did not receive every hand-off")  # a bug of ours
        meter.syscalls += 1
    for fd, _mask in events:
        k.send(fd, 1)  # the reply, by the worker or the loop
        meter.syscalls += 1
    if not pool:
        return meter.per(batch, interrupts)
    return meter.per(batch, interrupts, loop_switches=loop_switches, loop_syscalls=loop_calls)


def counts_at(idle: Counts, busy: Counts, batch: float) -> Counts:
    """The counts per request when a loop finds `batch` requests per wake-up (1 to `BATCH`).

    A loop's wake-up costs the same whatever it finds (one ``epoll_wait``, its sleep and its
    wake), so every count is F + A / batch; `idle` (batch 1) and `busy` (batch `BATCH`), the
    model's two runs, fix F and A. A shape that never batches has A = 0.
    """
    weight = (BATCH / batch - 1) / (BATCH - 1)
    return Counts(
        *(
            getattr(busy, name) + (getattr(idle, name) - getattr(busy, name)) * weight
            for name in Counts.__slots__
        )
    )


def point(
    shape: str, rate: int, cpus: int, work_ns: int, idle: Counts, busy: Counts, costs: MachineCosts
) -> ThrashPoint:
    """Where `cpus` CPUs' second goes when requests arrive at `rate` per second at `shape`
    (module docstring). Pure arithmetic: the same inputs give the same point.

    Three regimes. *Idle*: every request is handled with the idle counts and time is left over.
    *Batching*: not with the idle counts, but with a loop finding `batch` requests per wake-up,
    the smallest batch that keeps up (`counts_at`): every request is handled, no time is left.
    *Overloaded* (past the knee): even `BATCH` per wake-up cannot keep up; the server handles
    what the time left by the interrupts allows.
    """
    budget = cpus * 1e9
    interrupt = min(budget, rate * idle.interrupts * costs.interrupt.ns)
    left = budget - interrupt

    def whole(c: Counts) -> float:  # ns per request, on any CPU
        return c.switches * costs.switch.ns + c.syscalls * costs.syscall.ns + work_ns

    def serial(c: Counts) -> float:  # ns per request on the pool's one loop thread
        return c.loop_switches * costs.switch.ns + c.loop_syscalls * costs.syscall.ns

    def batch_needed(capacity: float, per: Callable[[Counts], float]) -> float | None:
        """The smallest batch at which `rate` requests cost at most `capacity`; None if none."""
        fixed, amortised = per(busy), (per(idle) - per(busy)) * BATCH / (BATCH - 1)
        fixed -= amortised / BATCH
        room = capacity / rate - fixed
        if amortised <= 0:
            return 1.0 if room >= 0 else None
        return max(1.0, amortised / room) if room > 0 else None

    needs = [batch_needed(left, whole), batch_needed(left / cpus, serial)]
    if shape == "threads":  # one connection per thread: nothing to batch
        needs = [1.0 if rate * whole(idle) <= left else None]
    wanted = None if None in needs else max(n for n in needs if n is not None)
    if wanted is not None and wanted <= BATCH:
        batch, handled, overloaded = wanted, float(rate), False
    else:
        batch, overloaded = (1.0 if shape == "threads" else float(BATCH)), True
        handled = min(float(rate), left / whole(busy))
        if busy.loop_syscalls:
            handled = min(handled, left / cpus / serial(busy))
    counts = counts_at(idle, busy, batch)
    switch = handled * counts.switches * costs.switch.ns
    syscall = handled * counts.syscalls * costs.syscall.ns
    work = handled * work_ns
    return ThrashPoint(
        shape=shape,
        rate=rate,
        cpus=cpus,
        throughput=handled,
        interrupt_ns=interrupt,
        switch_ns=switch,
        syscall_ns=syscall,
        work_ns=work,
        idle_ns=max(0.0, budget - interrupt - switch - syscall - work),
        overloaded=overloaded,
        batch=batch,
        counts=counts,
        costs=costs,
    )


def collapse_rate(costs: MachineCosts, cpus: int, interrupts_per_request: float) -> float:
    """The arrival rate at which interrupts alone fill every CPU: nothing is handled past it."""
    return cpus * 1e9 / (interrupts_per_request * costs.interrupt.ns)


def measure_costs(repeat: int) -> MachineCosts:
    """This machine's costs, measured in a live child of its own (ended on return)."""
    from simulator.live import LiveKernel

    with LiveKernel() as live:
        return MachineCosts.from_bench(live.lab("costs", repeat))


def thrash(
    plan: ThrashPlan, costs: MachineCosts | None = None
) -> Generator[ThrashPoint, None, None]:
    """Yield every shape's point at every rate of `plan` (checked), shape by shape.

    The machine's costs are measured first (`measure_costs`, a live child that ends before the
    first point) unless `costs` is given; each point carries them.
    """
    if costs is None:
        costs = measure_costs(plan.repeat)
    for shape in plan.shapes:
        idle = model_counts(shape, plan.cpus, 1)
        busy = model_counts(shape, plan.cpus, BATCH)
        for rate in plan.rates:
            yield point(shape, rate, plan.cpus, plan.work_ns, idle, busy, costs)
