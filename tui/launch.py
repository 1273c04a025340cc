"""Starting the app from the command line: in this terminal (`run_app`) or in a browser
(`serve`, through textual-serve, bound to localhost only)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

#: The exit status when the app cannot start (no terminal, textual-serve missing).
EXIT_USAGE = 2


def run_app(
    scenario: Path | None = None,
    *,
    live: bool = True,
    replay: Path | None = None,
    record: Path | None = None,
    predict: bool = False,
) -> int:
    """Run the app in this terminal; returns the exit status."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
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


def serve(host: str = "127.0.0.1", port: int = 8000, *, live: bool = True) -> int:
    """Serve the app to browsers with textual-serve (each browser tab runs its own app)."""
    try:
        from textual_serve.server import Server  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "muxlab: `muxlab serve` needs textual-serve: pip install textual-serve",
            file=sys.stderr,
        )
        return EXIT_USAGE
    command = [sys.executable, "-m", "tui"] + ([] if live else ["--no-live"])
    server = Server(shlex.join(command), host=host, port=port, title="muxlab")
    server.serve()
    return 0
