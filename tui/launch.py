"""Starting the app from the command line: in this terminal (`run_app`) or in a browser
(`serve`, through textual-serve, bound to localhost only)."""

from __future__ import annotations

import errno
import os
import shlex
import socket
import sys
from pathlib import Path

#: The exit status when the app cannot start (no terminal, textual-serve missing).
EXIT_USAGE = 2
#: The exit status when `serve` cannot listen on its port.
EXIT_FAILED = 1


def run_app(
    scenario: Path | None = None,
    *,
    live: bool = True,
    replay: Path | None = None,
    record: Path | None = None,
    predict: bool = False,
) -> int:
    """Run the app in this terminal; returns the exit status."""
    # Under `muxlab serve`, textual-serve runs us with pipes and a web driver (TEXTUAL_DRIVER).
    web = bool(os.environ.get("TEXTUAL_DRIVER"))
    if not web and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "muxlab: the interactive app needs a terminal (stdin and stdout are not a tty); "
            "use `muxlab play FILE --headless` for plain output",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from tui.app import make_app

    app = make_app(scenario, live=live, replay=replay, record=record, predict=predict)
    status = app.run()
    return status if isinstance(status, int) else 0


def serve(
    scenario: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    live: bool = True,
) -> int:
    """Serve the app to browsers with textual-serve (each browser tab runs its own app): the
    lesson menu, or `scenario` played as by `muxlab play` (`live` only applies to it).

    A port that is out of range, busy or not allowed ends in a message and exit status 2
    (usage) or 1 (busy or not allowed), never a traceback."""
    if not 1 <= port <= 65535:
        print(f"muxlab: --port must be between 1 and 65535 (got {port})", file=sys.stderr)
        return EXIT_USAGE
    if scenario is not None and not scenario.is_file():
        print(f"muxlab: {scenario}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        from textual_serve.server import Server  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "muxlab: `muxlab serve` needs textual-serve: pip install textual-serve",
            file=sys.stderr,
        )
        return EXIT_USAGE
    problem = _cannot_listen(host, port)
    if problem:
        print(f"muxlab: cannot serve on {host}:{port}: {problem}", file=sys.stderr)
        return EXIT_FAILED
    server = Server(
        shlex.join(app_command(scenario, live=live)), host=host, port=port, title="muxlab"
    )
    try:
        server.serve()  # until Ctrl+C or SIGTERM
    except OSError as exc:  # the port was taken between the check and the bind
        print(f"muxlab: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def app_command(scenario: Path | None = None, *, live: bool = True) -> list[str]:
    """The command `serve` has textual-serve run for each browser tab: this interpreter, isolated
    from the working directory (`python_command`), running the menu or `scenario`."""
    from simulator.live.kernel import python_command

    command = python_command("tui")
    if scenario is not None:
        command += ["play", str(scenario.resolve())] + ([] if live else ["--no-live"])
    return command


def _cannot_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (bound as aiohttp binds it), or None if it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is already in use (try another --port)"
            return exc.strerror or str(exc)
    return None
