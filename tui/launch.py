"""Starting the app from the command line: in this terminal (`run_app`) or in a browser
(`serve`, through textual-serve, bound to localhost only)."""

from __future__ import annotations

import errno
import os
import secrets
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
    served: bool = False,
    open_dir: Path | None = None,
) -> int:
    """Run the app in this terminal (or, `served`, for `muxlab serve`: its `o` dialog then
    opens files inside `open_dir` only, and is off without it); returns the exit status."""
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

    app = make_app(
        scenario,
        live=live,
        replay=replay,
        record=record,
        predict=predict,
        served=served,
        open_dir=open_dir,
    )
    status = app.run()
    return status if isinstance(status, int) else 0


def serve(
    scenario: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    live: bool = True,
    max_sessions: int | None = None,
    open_dir: Path | None = None,
) -> int:
    """Serve the app to browsers with textual-serve (each browser tab runs its own app): the
    lesson menu, or `scenario` played as by `muxlab play` (`live` only applies to it).

    Guarded by `tui.webserver.MuxlabServer`: the printed URL carries a random token, the
    websocket must come from the served page, at most `max_sessions` apps run at once, and the
    terminal size is bounded. The apps' `o` dialog opens files inside `open_dir` only (off
    without it). Any `host` but a loopback one is announced with a warning.

    A bad value (port, session count, folder, file) ends in a message and exit status 2; a port
    that is busy or not allowed, or a host that cannot be listened on, in status 1; never a
    traceback."""
    from tui.webserver import DEFAULT_MAX_SESSIONS, MAX_SESSIONS, is_loopback

    sessions = DEFAULT_MAX_SESSIONS if max_sessions is None else max_sessions
    if not 1 <= port <= 65535:
        print(f"muxlab: --port must be between 1 and 65535 (got {port})", file=sys.stderr)
        return EXIT_USAGE
    if sessions not in MAX_SESSIONS:
        print(
            f"muxlab: --max-sessions must be between {MAX_SESSIONS.start} and "
            f"{MAX_SESSIONS.stop - 1} (got {sessions})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if scenario is not None and not scenario.is_file():
        print(f"muxlab: {scenario}: no such file", file=sys.stderr)
        return EXIT_USAGE
    if open_dir is not None and not open_dir.is_dir():
        print(f"muxlab: --open-dir {open_dir}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        from tui.webserver import MuxlabServer
    except ImportError:
        print(
            "muxlab: `muxlab serve` needs textual-serve: pip install textual-serve",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not is_loopback(host):
        print(
            f"muxlab: warning: --host {host} serves other machines too; anyone who has the "
            "printed URL (its token) can use the app",
            file=sys.stderr,
        )
    problem = _cannot_listen(host, port)
    if problem:
        print(f"muxlab: cannot serve on {host}:{port}: {problem}", file=sys.stderr)
        return EXIT_FAILED
    command = [sys.executable, "-m", "tui"]
    command += ["--served"] + ([] if open_dir is None else ["--open-dir", str(open_dir.resolve())])
    if scenario is not None:
        command += ["play", str(scenario.resolve())] + ([] if live else ["--no-live"])
    token = secrets.token_urlsafe(24)
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/?token={token}"

    def banner() -> None:
        what = f"{scenario}" if scenario is not None else "the lesson menu"
        print(f"muxlab serve: {what} at\n\n    {url}\n", flush=True)
        print(
            f"Open that URL (it carries this run's token); at most {sessions} sessions at once. "
            "Ctrl+C stops.",
            flush=True,
        )

    server = MuxlabServer(
        shlex.join(command),
        host=host,
        port=port,
        token=token,
        max_sessions=sessions,
        banner=banner,
    )
    try:
        server.serve()  # until Ctrl+C or SIGTERM
    except OSError as exc:  # the port was taken between the check and the bind
        print(f"muxlab: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (bound as aiohttp binds it), or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is already in use (try another --port)"
            return exc.strerror or str(exc)
    return None
