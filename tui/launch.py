"""Starting the app from the command line: in this terminal (`run_app`, which turns a crash into
exit status 1, one line and a report file) or in a browser (`serve`, through textual-serve,
bound to localhost only).

Only what every start needs is imported at the top (the rest of the standard library it uses is
already loaded by Textual); `secrets` and `shlex`, for serving and for crash reports, are
imported where they are used."""

from __future__ import annotations

import errno
import gc
import io
import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from textual.app import App

    from tui.forkserver import ForkServer

#: The exit status when the app cannot start (no terminal, textual-serve missing).
EXIT_USAGE = 2
#: The exit status when `serve` cannot listen on its port, or the app crashed.
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
    sandbox: bool = False,
    challenge: str | None = None,
    params: dict[str, str] | None = None,
) -> int:
    """Run the app in this terminal (or, `served`, for `muxlab serve`: its `o` dialog then
    opens files inside `open_dir` only, and is off without it); returns the exit status."""
    # Under `muxlab serve`, textual-serve runs us with pipes and a web driver (TEXTUAL_DRIVER).
    web = bool(os.environ.get("TEXTUAL_DRIVER"))
    if not web and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "muxlab: the interactive app needs a terminal (stdin and stdout are not a tty); "
            "use `muxlab play FILE --headless` (or `muxlab sandbox --headless -`) for plain output",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from tui.app import make_app

    # Everything alive now -- the modules, classes and functions just imported -- lives as long
    # as the process. Moved to the collector's permanent generation (`gc.freeze`, O(1)), it is
    # not walked by the full collections to come: one comes while the first frame is drawn,
    # ~25 ms over the ~50,000 objects of the imports (issue 10, bench_startup.py). The player's
    # own heap policy (`tui.heap`) may hand them back later, which changes nothing.
    gc.freeze()
    app = make_app(
        scenario,
        live=live,
        replay=replay,
        record=record,
        predict=predict,
        served=served,
        open_dir=open_dir,
        sandbox=sandbox,
        challenge=challenge,
        params=params,
    )
    return run_reporting_crashes(app)


def run_reporting_crashes(app: App[Any]) -> int:
    """Run `app` in this terminal; returns its exit status: the app's return code, or 1 after an
    unhandled exception (a bug of ours).

    Textual would print the exception's traceback, with local variables, over the user's
    terminal and leave the status at 0. Instead the traceback goes to a crash report
    (`write_crash_report`) and the terminal gets one line: ``muxlab crashed: <exception>; full
    report in <path>``.
    """
    # Textual prints the exit renderables (its traceback of a crash) to error_console once the
    # terminal is restored; keep them here instead.
    exit_text = io.StringIO()
    app.error_console = Console(file=exit_text, markup=False, highlight=False, width=100)
    try:
        app.run()
    except Exception as exc:  # the app could not even start or stop cleanly
        crash: BaseException | None = exc
    else:
        crash = app._exception  # Textual keeps the first unhandled exception here
    if crash is None:
        sys.stderr.write(exit_text.getvalue())  # an `App.exit(message=...)`, if any
        return app.return_code or 0
    return report_crash(crash)


def report_crash(crash: BaseException) -> int:
    """Report an exception that is a bug of ours: the traceback to a report file
    (`write_crash_report`), one line to stderr; returns exit status 1."""
    report = write_crash_report(crash)
    where = f"full report in {report}" if report else "no report could be written"
    print(f"muxlab crashed: {_one_line(_describe(crash))}; {_one_line(where)}", file=sys.stderr)
    if report is None:
        traceback.print_exception(crash, file=sys.stderr)
    return EXIT_FAILED


def crash_dir() -> Path:
    """Where crash reports go: ``$XDG_STATE_HOME/muxlab``, by default ``~/.local/state/muxlab``."""
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "muxlab"


def write_crash_report(crash: BaseException) -> Path | None:
    """Write `crash`'s traceback and the versions involved to a new file; returns its path, or
    None if no file could be written.

    The file is created by `tempfile.mkstemp` (a random name, ``O_CREAT|O_EXCL``, mode 0600) in
    `crash_dir` (made 0700 if missing), or in the temporary directory when that is not
    writable: never at a predictable path that someone could have planted a symlink at.
    """
    import shlex

    stamp = time.strftime("%Y%m%d-%H%M%S")
    lines = [
        "muxlab crash report",
        f"when: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"command: {shlex.join(sys.argv)}",
        f"versions: {_versions()}",
        f"platform: {platform.platform()}",
        "",
        *traceback.format_exception(crash),
    ]
    for folder, prefix in ((crash_dir(), "crash-"), (None, "muxlab-crash-")):
        try:
            if folder is not None:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"{prefix}{stamp}-", suffix=".txt", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
                # Escape sequences in an exception's text stay inert when the file is `cat`.
                text = "\n".join(line.rstrip("\n") for line in lines)
                out.write("".join(_printable(c, "\n\t") for c in text) + "\n")
        except OSError:
            continue
        return Path(name)
    return None


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("muxlab", "textual", "rich"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join([*found, f"Python {platform.python_version()}"])


def _describe(crash: BaseException) -> str:
    text = str(crash)
    return f"{type(crash).__name__}: {text}" if text else type(crash).__name__


def _printable(char: str, keep: str = "") -> str:
    return char if char.isprintable() or char in keep else repr(char)[1:-1]


def _one_line(text: str, limit: int = 300) -> str:
    """`text` safe for a terminal, on one line: control characters (escape sequences from a
    file, newlines) shown as Python escapes, and cut at `limit` characters."""
    shown = "".join(_printable(c) for c in text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def serve(
    scenario: Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    live: bool = True,
    max_sessions: int | None = None,
    open_dir: Path | None = None,
    params: dict[str, str] | None = None,
) -> int:
    """Serve the app to browsers with textual-serve (each browser tab runs its own app): the
    lesson menu, or `scenario` played as by `muxlab play` (`live` only applies to it).

    Guarded by `tui.webserver.MuxlabServer`: the printed URL carries a random token, the
    websocket must come from the served page, at most `max_sessions` apps run at once, and the
    terminal size is bounded. The apps' `o` dialog opens files inside `open_dir` only (off
    without it). Any `host` but a loopback one is announced with a warning.

    `params` sets `scenario`'s knobs (``--param N=100``), checked here as `muxlab play` checks
    them. A bad value (port, session count, folder, file) ends in a message and exit status 2;
    a scenario that does not load (or a knob outside its range), a port that is busy or not
    allowed, or a host that cannot be listened on, in status 1; never a traceback."""
    import secrets
    import shlex

    from tui.webserver import MAX_SESSIONS, default_max_sessions, is_loopback

    sessions = default_max_sessions() if max_sessions is None else max_sessions
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
    if scenario is not None and params:  # a knob out of range is said here, not in each tab
        from simulator.scenario.loader import ScenarioError, load_scenario

        try:
            load_scenario(scenario, params)
        except ScenarioError as exc:
            print(exc.report(), file=sys.stderr)
            return EXIT_FAILED
    from simulator.isolated import python_command
    from tui.webserver import MuxlabServer  # textual-serve is a dependency: always there

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
    token = secrets.token_urlsafe(24)
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/?token={token}"

    def banner() -> None:
        print(start_message(scenario, url, sessions, loopback=is_loopback(host)), flush=True)

    args = app_arguments(scenario, live=live, open_dir=open_dir, params=params)
    forkserver = _start_forkserver()
    server = MuxlabServer(
        # `exec`: the shell textual-serve starts becomes the app, not its parent
        "exec " + shlex.join([*python_command("tui"), *args]),
        host=host,
        port=port,
        token=token,
        max_sessions=sessions,
        banner=banner,
        forkserver=forkserver,
        app_args=args,
    )
    try:
        server.serve()  # until Ctrl+C or SIGTERM
    except OSError as exc:  # the port was taken between the check and the bind
        print(f"muxlab: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if forkserver is not None:
            forkserver.close()
    return 0


def start_message(scenario: Path | None, url: str, sessions: int, *, loopback: bool) -> str:
    """What `muxlab serve` prints once it listens: for a teacher, the URL to hand out (with its
    token), how many can join, how other machines join, and what happens when the class is
    full."""
    what = _one_line(str(scenario)) if scenario is not None else "the lesson menu"
    reach = (
        "Only this machine can join. To let your class's machines join, restart with\n"
        "--host 0.0.0.0 and give them the URL with this machine's name or address."
        if loopback
        else "Other machines join with this URL (this machine's name, or its address, in it).\n"
        "Anyone who has the URL can join: share it with your class only."
    )
    return (
        f"muxlab serve: {what}, for up to {sessions} learners at once\n\n"
        f"    {url}\n\n"
        "Open that URL in a browser: it carries this run's token, without which nothing is\n"
        f"served. Each browser tab is one session: at most {sessions} sessions at once\n"
        '(--max-sessions). When all are taken, a new tab says "The class is full" and\n'
        "joins by itself as soon as someone closes a tab.\n"
        f"{reach}\n"
        "Ctrl+C stops the server and every session."
    )


def _start_forkserver() -> ForkServer | None:
    """The fork server the apps are forked from (`tui.forkserver`), started with the environment
    textual-serve gives an app; None (each app then starts a new interpreter) if it cannot."""
    from textual_serve.app_service import AppService

    from tui.forkserver import ForkServer

    # textual-serve's own environment for an app (it reads only `debug`), less the terminal
    # size, which each app is given when it is forked.
    env = AppService._build_environment(SimpleNamespace(debug=False))  # type: ignore[arg-type]
    env.pop("COLUMNS", None)
    env.pop("ROWS", None)
    try:
        return ForkServer.start(env)
    except OSError as exc:
        print(f"muxlab: warning: {exc}; each session starts a new interpreter", file=sys.stderr)
        return None


def app_arguments(
    scenario: Path | None = None,
    *,
    live: bool = True,
    open_dir: Path | None = None,
    params: dict[str, str] | None = None,
) -> list[str]:
    """The ``muxlab`` arguments of the app `serve` runs for each browser tab: the menu or
    `scenario` (its knobs set by `params`), as a served app (its `o` dialog off, or confined
    to `open_dir`)."""
    args = ["--served"]
    if open_dir is not None:
        args += ["--open-dir", str(open_dir.resolve())]
    if scenario is not None:
        args += ["play", str(scenario.resolve())] + ([] if live else ["--no-live"])
        args += [f"--param={name}={value}" for name, value in (params or {}).items()]
    return args


def app_command(
    scenario: Path | None = None, *, live: bool = True, open_dir: Path | None = None
) -> list[str]:
    """The command that runs `app_arguments` in this interpreter, isolated from the working
    directory (`python_command`): how an app starts when it is not forked."""
    from simulator.isolated import python_command

    return [*python_command("tui"), *app_arguments(scenario, live=live, open_dir=open_dir)]


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
