"""`muxlab serve`'s fork server: one interpreter that imports the app once, and forks each
browser tab's app from it.

Started the usual way (a new ``python -I`` per tab, as textual-serve does), every app imports
Textual, the menu, the player, the scenario format and pydantic's models again: about 1 CPU-second
to the menu's first frame and as much again to open a lesson. A class that joins at once on
two cores waits for all of it (tests/benchmarks/bench_serve.py: 40 tabs at once, the median
first frame took 82 s). Forked from an interpreter that has already imported them (`PRELOAD`,
and every shipped lesson loaded once so pydantic's models are built), an app starts in a few
milliseconds of CPU and shares those pages with every other app until it writes to them
(`gc.freeze` keeps the collector from writing to them).

The two halves:

- `ForkServer` (in `muxlab serve`): starts the fork server with the environment textual-serve
  gives an app (Textual reads some of it at import), connected by a ``SOCK_SEQPACKET``
  socketpair -- no file on disk, no address another user could reach. `spawn` makes the
  three pipes of an app, sends the child's ends (``SCM_RIGHTS``) with its arguments and
  environment in one message, and returns a `ForkedProcess` whose stdin, stdout and stderr are
  asyncio streams, which is all textual-serve's `AppService` uses of a process.
- `main` (in the fork server, ``python -m tui.forkserver FD``): imports, says ``ready``, then
  forks once per message. The child puts the pipes on 0, 1 and 2, takes the environment and
  runs ``muxlab`` with the arguments, as ``python -m tui`` would; children are reaped by the
  kernel (``SIGCHLD`` ignored in the fork server, restored in each child, whose live kernel is a
  child of its own). When `muxlab serve` ends, its end of the socket closes and the fork server
  exits; the apps, in the same process group, end with the server as before.

Every forked app shares the fork server's hash seed and `random` state: nothing in muxlab
draws from `random`, and the token is made by `secrets` in the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass

#: What the fork server imports before it forks anything: the app, its screens, the menu's
#: Markdown, the player and its session, the sandbox, the scenario format and runner (`tui`
#: imports neither kernel: the runner brings in the live engine's client when a lesson opens).
PRELOAD = (
    "tui.cli",
    "tui.app",
    "tui.screens.menu",
    "rich.markdown",
    "tui.screens.player",
    "tui.session",
    "tui.sandbox_session",
    "tui.screens.sandbox",
    "simulator.scenario",
    "simulator.scenario.runner",
)
#: The most a request (arguments and environment, as JSON) may take.
MAX_REQUEST = 1 << 20
#: How long `ForkServer.start` waits for the fork server to have imported everything.
READY_TIMEOUT_S = 120.0


@dataclass
class ForkedProcess:
    """What textual-serve's `AppService` uses of an app's process: its three streams."""

    stdin: asyncio.StreamWriter
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader


class ForkServer:
    """The server's side: see the module docstring."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self._ready: bool | None = None  # not yet known: the first `spawn` waits for it
        self._waiting = asyncio.Lock()

    @classmethod
    def start(cls, env: dict[str, str]) -> ForkServer:
        """Start the fork server with `env` (raises OSError if it cannot be started). It imports
        the app while `muxlab serve` starts listening; the first `spawn` waits for it."""
        from simulator.isolated import python_command

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [*python_command("tui.forkserver"), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                env=env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, ours)

    def _wait_ready(self) -> bool:
        """Block until the fork server says ``ready`` (at most `READY_TIMEOUT_S`)."""
        self.sock.settimeout(READY_TIMEOUT_S)
        try:
            return self.sock.recv(64) == b"ready"
        except OSError:
            return False
        finally:
            self.sock.settimeout(None)

    async def spawn(self, args: list[str], env: dict[str, str]) -> ForkedProcess:
        """Fork an app that runs ``muxlab ARGS`` with `env`; its streams. Raises OSError if the
        fork server is gone or never got ready."""
        async with self._waiting:
            if self._ready is None:
                self._ready = await asyncio.to_thread(self._wait_ready)
        if not self._ready:
            raise OSError("the fork server did not start")
        loop = asyncio.get_running_loop()
        (in_r, in_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
        request = json.dumps({"args": args, "env": env}).encode("utf-8")
        try:
            socket.send_fds(self.sock, [request], [in_r, out_w, err_w])
        except OSError:
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            raise
        for fd in (in_r, out_w, err_w):  # the app's ends: the app has them now
            os.close(fd)
        stdout, stderr = asyncio.StreamReader(), asyncio.StreamReader()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(out_r, "rb", 0)
        )
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stderr), os.fdopen(err_r, "rb", 0)
        )
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), os.fdopen(in_w, "wb", 0)
        )
        stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return ForkedProcess(stdin, stdout, stderr)

    def close(self) -> None:
        """Stop the fork server (the apps it forked go on until they quit)."""
        self.sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the fork server itself ------------------------------------------------------------------


def preload() -> None:
    """Import `PRELOAD`, read the menu's catalogue in full (`tui.lessons` keeps it by file
    stamp, so each app's menu finds it read) and load every shipped lesson once (pydantic
    builds its models on first use); a lesson that does not load is the app's to report."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    from tui.lessons import catalogue

    catalogue()
    from simulator.scenario.library import shipped_dir
    from simulator.scenario.loader import ScenarioError, load_scenario

    folder = shipped_dir()
    for path in sorted(folder.glob("*.toml")) if folder is not None else ():
        with contextlib.suppress(ScenarioError):
            load_scenario(path)


def main(fd: int) -> int:
    """Serve fork requests on the socket `fd` until the other end closes."""
    import gc

    # Ctrl+C reaches the whole process group: the server stops, and closing its end of the
    # socket is what ends this process (no traceback on the teacher's terminal).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    preload()
    gc.collect()
    gc.freeze()  # the imported objects stay out of every child's collections (fewer pages copied)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the apps
    try:
        sock.sendall(b"ready")
    except OSError:  # the server stopped while we imported
        return 0
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 3)
        except InterruptedError:
            continue
        except OSError:  # the server is gone
            return 0
        if not message:
            return 0
        request = _request(message)
        if request is not None and len(fds) == 3:
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                _run_child(sock, fds, *request)
        for received in fds:
            os.close(received)


def _request(message: bytes) -> tuple[list[str], dict[str, str]] | None:
    """A request's arguments and environment; None if it is not one (only the server sends)."""
    try:
        request = json.loads(message)
        env = {str(name): str(value) for name, value in request["env"].items()}
        return [str(arg) for arg in request["args"]], env
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _run_child(sock: socket.socket, fds: list[int], args: list[str], env: dict[str, str]) -> None:
    """In the forked child: become the app (never returns)."""
    status = 1
    try:
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as a started app has it
        for target, received in enumerate(fds):
            os.dup2(received, target)
        for received in fds:
            if received > 2:
                os.close(received)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["muxlab", *args]
        from tui.cli import main as muxlab

        status = muxlab(args)
    except BaseException:  # a crash of ours: said on the app's stderr, which the server logs
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1])))
