"""One step on one kernel: names in, a call, and the result (or error) back in names.

A scenario speaks names (``fd = "a"``, ``events = ["IN"]``); a kernel speaks numbers. `Bindings`
holds one kernel's name -> fd map, `invoke` makes the call, and an `Outcome` keeps the result in
both forms: ``raw`` (JSON numbers, what a recording stores, portable between machines) and
``result`` (names, what people read and what verdicts compare). The model and the live kernel
each have their own `Bindings`, so if they ever hand out different fd numbers the step that did
it is flagged, and later steps are still compared name by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from simulator import uapi
from simulator.scenario import vocabulary
from simulator.scenario.format import CALLS, CallSpec, ResultKind, StepBase
from simulator.scenario.loader import argument_refs
from simulator.syscalls import ANSWER_EXCEPTIONS, ArgKind

#: A JSON value (what ``json.dumps`` accepts).
Json = Any

UNBOUND = "UNBOUND"
"""Error name of a step that could not run because a name it uses was never bound (the step
that should have bound it failed on this kernel)."""


class UnboundName(LookupError):
    """A name used by a step has no fd on this kernel."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Bindings:
    """One kernel's names: name -> fd, and fd -> the name most recently bound to it.

    `snapshot` keeps the names as they are in O(1), so the runner can give every step's record
    the live kernel's names (a copy of the dicts at every step is quadratic in a long scenario:
    10,000 ``socketpair`` steps copy 20,000 names at the last one). The first snapshot starts a
    log of the binds that come after it, which every snapshot shares: a snapshot is the names
    at that first snapshot (`_base`, copied once) and a prefix of the log, made into dicts the
    first time they are read. Names never snapshotted (the model's) keep no log: a `bind` is
    two dict writes.
    """

    __slots__ = ("_base", "_fds", "_frozen", "_length", "_log", "_names", "_snapshot")

    def __init__(self, fds: dict[str, int] | None = None, names: dict[int, str] | None = None):
        self._fds: dict[str, int] | None = dict(fds or {})
        self._names: dict[int, str] | None = dict(names or {})
        #: The names when the log began (copies, never changed), or None: there were none.
        self._base: tuple[dict[str, int], dict[int, str]] | None = None
        #: Every bind since the first `snapshot` (shared with the snapshots), or None: no
        #: snapshot was ever taken.
        self._log: list[tuple[str, int]] | None = None
        self._length = 0  #: how much of the log a snapshot sees (a prefix)
        self._frozen = False
        #: The last `snapshot` taken, while no `bind` came after it (it is shared).
        self._snapshot: Bindings | None = None

    @property
    def fds(self) -> dict[str, int]:
        """name -> fd (read it; change names only through `bind`)."""
        if self._fds is None:
            self._materialise()
        assert self._fds is not None
        return self._fds

    @property
    def names(self) -> dict[int, str]:
        """fd -> the name most recently bound to it."""
        if self._names is None:
            self._materialise()
        assert self._names is not None
        return self._names

    def _materialise(self) -> None:
        """A snapshot's dicts: its base, then its prefix of the log. O(names)."""
        fds, names = (dict(self._base[0]), dict(self._base[1])) if self._base else ({}, {})
        log = self._log
        assert log is not None  # a snapshot always has one
        for i in range(self._length):
            name, fd = log[i]
            fds[name] = fd
            names[fd] = name
        self._fds, self._names = fds, names

    def bind(self, name: str, fd: int) -> None:
        """Give `fd` the name `name` (a name can be rebound; the fd's older name stays usable).
        O(1): two dict writes, and an entry in the log once a snapshot shares it."""
        log = self._log
        if log is not None:  # snapshots share these names: they see the log, not the dicts
            if self._frozen:
                raise TypeError("a snapshot of names cannot bind")
            log.append((name, fd))
            self._snapshot = None
        # Only snapshots (frozen) build their dicts late, and they raised above: these are here.
        self._fds[name] = fd  # type: ignore[index]
        self._names[fd] = name  # type: ignore[index]

    def resolve(self, ref: str | int) -> int:
        """A name or raw number -> fd number; `UnboundName` if the name has none here."""
        if isinstance(ref, int):
            return ref
        try:
            return self.fds[ref]
        except KeyError:
            raise UnboundName(ref) from None

    def name(self, fd: int) -> str:
        """How an fd is shown: its latest name, else ``fd<N>``."""
        name = self.names.get(fd)
        return f"fd{fd}" if name is None else name

    def copy(self) -> Bindings:
        """An independent copy (O(names)): it can bind without changing this one."""
        return Bindings(self.fds, self.names)

    def __deepcopy__(self, memo: dict[int, Any]) -> Bindings:
        """`copy` (a model checkpoint copies its names): O(names), not O(every bind ever made,
        which the log holds). A snapshot never changes, so it is its own copy."""
        return self if self._frozen else self.copy()

    def snapshot(self) -> Bindings:
        """These names as they are now, frozen, in O(1) (the first snapshot of a `Bindings`:
        O(names), to begin its log): later binds here do not show in it. It is read only
        (`bind` raises `TypeError`). Snapshots with no `bind` between them are one object (a
        run whose live names never change keeps one)."""
        if self._frozen:
            return self
        frozen = self._snapshot
        if frozen is None:
            log = self._log
            if log is None:  # the first snapshot: the log begins at the names as they are
                fds, names = self.fds, self.names
                self._base = (dict(fds), dict(names)) if fds or names else None
                self._log = log = []
            frozen = Bindings.__new__(Bindings)
            frozen._fds = frozen._names = frozen._snapshot = None
            frozen._base, frozen._log, frozen._length = self._base, log, len(log)
            frozen._frozen = True
            self._snapshot = frozen
        return frozen

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bindings):
            return NotImplemented
        return self.fds == other.fds and self.names == other.names

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Bindings(fds={self.fds!r}, names={self.names!r})"


@dataclass(slots=True)
class Outcome:
    """What one kernel answered to one step: a result, or an error (by name, with its message).

    `result` is in names; `raw` is the same in numbers (fds, masks). An error is an errno name
    (``EEXIST``) or an exception class name (``ValueError``, ``WaitForeverError``).

    Read only, by convention: records share their outcomes. (Not a frozen dataclass: its
    ``__init__`` sets each field through ``object.__setattr__``, which cost more than twice as
    much, and a run makes one or two outcomes a step.)
    """

    result: Json = None
    raw: Json = None
    error: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Json]:
        if self.error is not None:
            return {"error": self.error, "message": self.message}
        return {"result": self.result, "raw": self.raw}

    def to_recording(self) -> dict[str, Json]:
        """What a recording keeps: numbers only (names are re-derived on replay)."""
        if self.error is not None:
            return {"error": self.error, "message": self.message}
        return {"raw": self.raw}


def kernel_arguments(step: StepBase, bindings: Bindings) -> dict[str, Any]:
    """The keyword arguments of the `Kernel` call for `step`, names resolved to numbers (by the
    kinds the call table gives the arguments)."""
    return CallPlan(step).resolve(bindings)


#: Kinds whose entries are tables naming descriptors (read by `step_names`).
_TABLE_KINDS = frozenset({ArgKind.KEVENT_CHANGES, ArgKind.SQE_LIST})


#: `CallPlan.shape`, the result's shape for `issue`'s common cases: one descriptor that ``as``
#: names, a pair of them, nothing (``ok``), or anything else (`outcome_of`, by result kind).
_BY_KIND, _ONE_FD, _TWO_FDS, _NOTHING = 0, 1, 2, 3


class CallPlan:
    """One step's call, prepared once for every run of it: its `CallSpec`, the names ``as``
    binds, and its arguments (`kernel_arguments` by `resolve`).

    Reading a step's validated fields and converting its flags costs several times a model
    call; none of it depends on the run, so the plan does it when made, and `resolve` only looks
    up the step's names in a kernel's `Bindings` (O(descriptors the step names)).
    """

    __slots__ = ("_fixed", "_named", "kind", "method", "names", "refs", "shape", "spec", "written")

    def __init__(self, step: StepBase) -> None:
        # Made for every step of a scenario when it is run: each field read once, and a call
        # without arguments (``socketpair``, ``epoll_create``) skips the argument table.
        spec: CallSpec = CALLS[step.do]  # type: ignore[attr-defined]  # (`step.call`, inline)
        self.spec = spec
        syscall = spec.syscall
        self.method: str = syscall.name  #: the `Kernel` method's name
        self.kind: ResultKind = syscall.result  #: what it returns
        as_ = step.as_  # (`step.names`, inline)
        #: what ``as`` binds, in order
        self.names: tuple[str, ...] = (
            () if as_ is None else (as_,) if isinstance(as_, str) else tuple(as_)
        )
        #: What a successful call returns, for `issue` (decided once).
        self.shape: int = (
            _TWO_FDS
            if self.names and self.kind is ResultKind.PAIR
            else _ONE_FD
            if self.names and self.kind is ResultKind.FD
            else _NOTHING
            if self.kind is ResultKind.NONE
            else _BY_KIND
        )
        # The validated table's fields (it forbids extra keys), read as one dict: iterating
        # the model looks for extras through a failing attribute lookup, ~10 µs a step.
        #: The arguments as written (the validated table's fields: read, never change).
        self.written: dict[str, Any] = vars(step.arguments)
        fixed = dict(self.written)
        named: list[tuple[str, ArgKind, Any]] = []
        if fixed:
            for arg in syscall.args:
                if arg.name not in fixed:
                    continue
                value = fixed[arg.name]
                if arg.kind is ArgKind.POLL_LIST:
                    named.append(
                        (arg.name, arg.kind, [(fd, vocabulary.events_mask(ev)) for fd, ev in value])
                    )
                elif arg.kind.names_fds:  # resolved through a kernel's names at every call
                    named.append((arg.name, arg.kind, value))
                elif arg.kind is ArgKind.FLAGS:
                    assert arg.family is not None
                    table = vocabulary.FAMILIES[arg.family]
                    if isinstance(value, list):
                        fixed[arg.name] = vocabulary.mask_of(value, table, arg.family.value)
                    else:
                        fixed[arg.name] = vocabulary.lookup(value, table, arg.family.value)
        self._fixed = fixed
        self._named = tuple(named)
        #: Every descriptor name the arguments use (`step_names`), in order.
        self.refs: tuple[str, ...] = (
            ()
            if not named
            else tuple(
                step_names(step)
                if any(kind in _TABLE_KINDS for _, kind, _ in named)
                else (ref for ref in self._refs() if isinstance(ref, str))
            )
        )

    def _refs(self) -> Iterator[str | int]:
        for _, kind, value in self._named:
            if kind is ArgKind.FD or kind is ArgKind.SOCKET or kind is ArgKind.HANDLE:
                yield value
            elif kind is ArgKind.FD_LIST:
                yield from value
            elif kind is ArgKind.POLL_LIST:
                yield from (fd for fd, _ in value)

    def resolve(self, bindings: Bindings) -> dict[str, Any]:
        """The call's keyword arguments on the kernel whose names are `bindings` (a new dict);
        `UnboundName` if a name has no fd there. O(descriptors the step names)."""
        values = dict(self._fixed)
        r = bindings.resolve
        for name, kind, value in self._named:
            if kind is ArgKind.FD or kind is ArgKind.SOCKET or kind is ArgKind.HANDLE:
                values[name] = r(value)
            elif kind is ArgKind.FD_LIST:
                values[name] = [r(fd) for fd in value]
            elif kind is ArgKind.POLL_LIST:
                values[name] = [(r(fd), mask) for fd, mask in value]
            elif kind is ArgKind.SQE_LIST:
                values[name] = [_sqe(entry, bindings) for entry in value]
            else:
                values[name] = [_kevent(change, bindings) for change in value]
        return values


def sent_json(arguments: dict[str, Any]) -> dict[str, Json]:
    """`kernel_arguments` as plain JSON numbers (KEvents as tables, tuples as lists)."""

    def plain(value: Any) -> Json:
        if isinstance(value, uapi.KEvent):
            return {
                "ident": value.ident,
                "filter": value.filter,
                "flags": value.flags,
                "fflags": value.fflags,
                "data": value.data,
                "udata": value.udata,
            }
        if isinstance(value, uapi.Sqe):
            return {
                "op": value.op,
                "fd": value.fd,
                "nbytes": value.nbytes,
                "events": value.events,
                "user_data": value.user_data,
                "timeout_ms": value.timeout_ms,
                "flags": value.flags,
            }
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {key: plain(value) for key, value in arguments.items()}


def _sqe(entry: Any, bindings: Bindings) -> uapi.Sqe:
    fd = -1 if entry.fd is None else bindings.resolve(entry.fd)
    return uapi.Sqe(
        op=entry.op,
        fd=fd,
        nbytes=entry.nbytes,
        events=vocabulary.events_mask(entry.events),
        user_data=entry.user_data,
        timeout_ms=entry.timeout_ms,
        flags=vocabulary.mask_of(entry.flags, uapi.IOSQE_FLAG_NAMES, "IOSQE flag"),
    )


def _cqe_json(cqe: uapi.Cqe) -> dict[str, Json]:
    return {"user_data": cqe.user_data, "res": cqe.res, "flags": cqe.flags}


def _packet_json(packet: uapi.CompletionPacket) -> dict[str, Json]:
    return {
        "bytes": packet.bytes_transferred,
        "key": packet.key,
        "overlapped": packet.overlapped,
        "status": packet.status,
    }


def _kevent(change: Any, bindings: Bindings) -> uapi.KEvent:
    filt = vocabulary.lookup(change.filter, uapi.KQ_FILTER_NAMES, "filter")
    ident = bindings.resolve(change.ident) if isinstance(change.ident, str) else change.ident
    return uapi.KEvent(
        ident=ident,
        filter=filt,
        flags=vocabulary.kq_flags_mask(change.flags),
        fflags=change.fflags,
        data=change.data,
        udata=change.udata,
    )


def step_names(step: StepBase) -> Iterator[str]:
    """Every fd name a step's arguments use (to know which kernel can run it)."""
    for _, ref in argument_refs(step):
        if isinstance(ref, str):
            yield ref


def invoke(
    kernel: uapi.Kernel, step: StepBase, bindings: Bindings, plan: CallPlan | None = None
) -> Outcome:
    """Run `step` on `kernel`, bind ``as`` names on success, return the outcome in names
    (`plan`: the step's `CallPlan`, when the caller keeps one)."""
    return issue(kernel, step, bindings, plan)[0]


def issue(
    kernel: uapi.Kernel, step: StepBase, bindings: Bindings, plan: CallPlan | None = None
) -> tuple[Outcome, dict[str, Any] | None]:
    """`invoke`, and also the arguments the kernel was sent, in numbers (None: a name had no fd
    here, so nothing was sent; read them, never change them: a call that names no descriptor
    shares its plan's).

    Exceptions in `ANSWER_EXCEPTIONS` become error outcomes. Anything else propagates (on the
    model it is a bug; on the live kernel, a broken engine -- including ``ChildProcessError``,
    LiveKernel's report that its child died, although it is an OSError). A name with no fd on
    this kernel gives the `UNBOUND` outcome without calling the kernel.
    """
    if plan is None:
        plan = CallPlan(step)
    if plan._named:
        try:
            kwargs = plan.resolve(bindings)
        except UnboundName as exc:
            unbound = Outcome(
                error=UNBOUND,
                message=f"{exc.name!r} has no fd here: the step that should have bound it failed",
            )
            return unbound, None
    else:  # no name to look up: the arguments are the plan's own (read, never changed)
        kwargs = plan._fixed
    try:
        value = getattr(kernel, plan.method)(**kwargs)
    except ChildProcessError:
        # LiveKernel's "the child process is gone": an OSError, but never a kernel's answer.
        raise
    except ANSWER_EXCEPTIONS as exc:
        name, message = vocabulary.exception_name(exc), str(exc) or type(exc).__name__
        return Outcome(None, None, name, message), kwargs
    # The common calls, without `raw_of` and `named`'s dispatch: those that bind
    # (``socketpair``, ``epoll_create``, ``accept``...), whose result in names is what ``as``
    # bound (each fd's latest name), and those that return nothing (``epoll_ctl``...).
    shape = plan.shape
    if shape == _TWO_FDS:
        first, second = plan.names
        fd0, fd1 = int(value[0]), int(value[1])
        bindings.bind(first, fd0)
        bindings.bind(second, fd1)
        return Outcome([first, second], [fd0, fd1]), kwargs
    if shape == _ONE_FD:
        fd = int(value)
        bindings.bind(plan.names[0], fd)
        return Outcome(plan.names[0], fd), kwargs
    if shape == _NOTHING:
        return Outcome("ok"), kwargs  # (`named` of `ResultKind.NONE`; nothing raw)
    return outcome_of(plan.spec, plan.names, raw_of(plan.spec, value), bindings), kwargs


def outcome_of(spec: CallSpec, names: Sequence[str], raw: Json, bindings: Bindings) -> Outcome:
    """Bind the step's `names` (what its ``as`` binds) to a successful raw result and translate
    it into names."""
    kind = spec.result
    if kind is ResultKind.FD and names:
        bindings.bind(names[0], raw)
    elif kind is ResultKind.PAIR and names:
        for name, fd in zip(names, raw, strict=True):
            bindings.bind(name, fd)
    return Outcome(named(kind, raw, bindings), raw)


def replay(step: StepBase, recorded: dict[str, Json], bindings: Bindings) -> Outcome:
    """An outcome from a recording (numbers only), re-bound and re-named like a live call."""
    if "error" in recorded:
        return Outcome(error=recorded["error"], message=recorded.get("message"))
    return outcome_of(step.call, step.names, recorded.get("raw"), bindings)


def raw_of(spec: CallSpec, value: Any) -> Json:
    """A kernel's return value as plain JSON numbers."""
    kind = spec.result
    if kind is ResultKind.PAIR:
        return [int(value[0]), int(value[1])]
    if kind is ResultKind.EVENTS:
        return [[int(fd), int(mask)] for fd, mask in value]
    if kind is ResultKind.SELECT:
        return [[int(fd) for fd in fds] for fds in value]
    if kind is ResultKind.KEVENTS:
        return [
            {
                "ident": ev.ident,
                "filter": ev.filter,
                "flags": ev.flags,
                "fflags": ev.fflags,
                "data": ev.data,
                "udata": ev.udata,
            }
            for ev in value
        ]
    if kind is ResultKind.CQES:
        return [_cqe_json(cqe) for cqe in value]
    if kind is ResultKind.PACKETS:  # IOCP (model only)
        return [_packet_json(packet) for packet in value]
    if kind is ResultKind.NONE:
        return None
    return int(value)


def named(kind: ResultKind, raw: Json, bindings: Bindings) -> Json:
    """Raw numbers -> the names people read (fds by binding, masks by bit name)."""
    name = bindings.name
    if kind is ResultKind.FD:
        return name(raw)
    if kind is ResultKind.PAIR:
        return [name(fd) for fd in raw]
    if kind is ResultKind.EVENTS:
        return [[name(fd), uapi.event_names(mask)] for fd, mask in raw]
    if kind is ResultKind.SELECT:
        return [[name(fd) for fd in fds] for fds in raw]
    if kind is ResultKind.KEVENTS:
        return [_named_kevent(ev, bindings) for ev in raw]
    if kind is ResultKind.NONE:
        return "ok"
    if kind is ResultKind.PACKETS:  # IOCP (model only): the status by its Windows name
        return [{**p, "status": uapi.win32_error_name(p["status"])} for p in raw]
    return raw


def _named_kevent(ev: dict[str, int], bindings: Bindings) -> dict[str, Json]:
    fd_filter = ev["filter"] in (uapi.KQ_FILTER_READ, uapi.KQ_FILTER_WRITE)
    return {
        "ident": bindings.name(ev["ident"]) if fd_filter else ev["ident"],
        "filter": vocabulary.filter_name(ev["filter"]),
        "flags": uapi.event_names(ev["flags"], uapi.KQ_FLAG_NAMES),
        "fflags": ev["fflags"],
        "data": ev["data"],
        "udata": ev["udata"],
    }


def expected(kind: ResultKind, value: Json, bindings: Bindings) -> Json:
    """An ``expect``/``choices`` value normalised like a result, through `bindings`.

    Fd references go name -> number -> latest name, so a stale name and the new name of the
    same number compare equal. Raises `UnboundName` if a name has no fd on this kernel.
    """
    if isinstance(value, dict) and "error" in value:
        return {"error": vocabulary.error_name(value["error"])}

    def fd(ref: str | int) -> str:
        return bindings.name(bindings.resolve(ref))

    if kind is ResultKind.FD:
        return fd(value)
    if kind is ResultKind.PAIR:
        return [fd(v) for v in value]
    if kind is ResultKind.EVENTS:
        return [[fd(f), uapi.event_names(vocabulary.events_mask(ev))] for f, ev in value]
    if kind is ResultKind.SELECT:
        return [[fd(f) for f in fds] for fds in value]
    if kind is ResultKind.KEVENTS:
        out = []
        for ev in value:
            item = dict(ev)
            filt = vocabulary.lookup(item.get("filter", "READ"), uapi.KQ_FILTER_NAMES, "filter")
            if "ident" in item and filt in (uapi.KQ_FILTER_READ, uapi.KQ_FILTER_WRITE):
                item["ident"] = fd(item["ident"])
            if "filter" in item:
                item["filter"] = vocabulary.filter_name(filt)
            if "flags" in item:
                mask = vocabulary.kq_flags_mask(item["flags"])
                item["flags"] = uapi.event_names(mask, uapi.KQ_FLAG_NAMES)
            out.append(item)
        return out
    return value


def satisfies(outcome: Outcome, want: Json, kind: ResultKind) -> bool:
    """Whether an outcome is what a normalised expectation describes."""
    if isinstance(want, dict) and "error" in want:
        return outcome.error == str(want["error"])
    if not outcome.ok:
        return False
    if kind in (ResultKind.KEVENTS, ResultKind.CQES, ResultKind.PACKETS):
        got = outcome.result
        return len(got) == len(want) and all(
            all(g.get(k) == v for k, v in w.items()) for g, w in zip(got, want, strict=True)
        )
    result: Json = outcome.result
    return bool(result == want)


def same(model: Outcome, live: Outcome, kind: ResultKind, compare_fds: bool) -> bool:
    """Whether two kernels agree: same error name, or same result in names (and, for calls
    that allocate descriptors, the same numbers while the fd tables are comparable)."""
    if model.error != live.error:
        return False
    if model.error is not None:
        return True
    if model.result != live.result:
        return False
    return not (compare_fds and kind in (ResultKind.FD, ResultKind.PAIR) and model.raw != live.raw)


def show(outcome: Outcome | None) -> str:
    """A short one-line text of an outcome: ``[a IN|RDNORM]``, ``EEXIST``, ``3``."""
    if outcome is None:
        return "(not run)"
    if outcome.error is not None:
        return outcome.error
    return show_value(outcome.result)


def show_value(value: Json) -> str:
    """Render a names-form value compactly (event lists as ``fd IN|OUT``)."""
    if type(value) is str:  # a descriptor's name (what most steps return), as it is
        return value
    if type(value) is list and value and all(type(v) is str for v in value):
        return "[" + ", ".join(value) + "]"  # names (a pair): what the last branch makes
    if isinstance(value, list) and all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[1], list) for v in value
    ):
        return "[" + ", ".join(f"{fd} {'|'.join(ev) or '0'}" for fd, ev in value) + "]"
    if isinstance(value, dict) and "error" in value:
        return str(value["error"])
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={show_value(v)}" for k, v in value.items()) + "}"
    return str(value)
