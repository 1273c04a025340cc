"""`Twin`: drive the model and the real kernel with the same calls, and insist they agree.

Every protocol call made through a `Twin` runs on `ModelKernel` and on `LiveKernel`; the two
outcomes -- a result, or an exception compared by type, errno and message -- must be identical,
or the test fails right there with both outcomes shown. The call then returns the (common)
result or raises the (common) exception, so a differential test reads like a plain script:

    a, b = twin.socketpair()
    twin.send(b, 5)
    assert twin.epoll_wait(ep, 10, 0) == [(a, EPOLLIN)]

The real kernel is the judge: when the two differ, the model is wrong until proven otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.uapi import Kernel


@dataclass(frozen=True)
class Outcome:
    """What one call did: its result, or the exception it raised (type, errno, message)."""

    result: Any = None
    error: tuple[str, int | None, str] | None = None
    exc: BaseException | None = None

    @classmethod
    def of(cls, fn: Callable[[], Any]) -> Outcome:
        try:
            return cls(result=fn())
        except Exception as exc:  # any exception is an outcome to compare
            return cls(error=describe(exc), exc=exc)

    def key(self) -> object:
        return ("raised", self.error) if self.error is not None else ("returned", self.result)


def describe(exc: BaseException) -> tuple[str, int | None, str]:
    """Exception identity as a caller sees it: class name, errno, message."""
    return (type(exc).__name__, getattr(exc, "errno", None), str(exc))


class Divergence(AssertionError):
    """The model and the real kernel disagreed on one call."""


class Twin:
    """Proxy of the `Kernel` protocol over two kernels that must agree call by call."""

    def __init__(self, model: Kernel, live: Kernel) -> None:
        self.model = model
        self.live = live
        self.log: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        model_fn = getattr(self.model, name)
        live_fn = getattr(self.live, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
            here = f"{name}({shown})"
            m = Outcome.of(lambda: model_fn(*args, **kwargs))
            lv = Outcome.of(lambda: live_fn(*args, **kwargs))
            self.log.append(here)
            if m.key() != lv.key():
                history = "\n  ".join(self.log[-12:])
                raise Divergence(
                    f"model and real kernel disagree on {here}\n"
                    f"  model: {m.key()}\n  real:  {lv.key()}\n"
                    f"calls so far (latest last):\n  {history}"
                )
            if lv.exc is not None:
                raise lv.exc
            return lv.result

        return call
