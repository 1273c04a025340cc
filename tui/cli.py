"""The ``muxlab`` command line: check, validate, schema, play, serve, lab, sandbox, export, site.

Every user mistake (a bad file, a missing path, a wrong option) ends in a message and a non-zero
exit status, never a traceback; tracebacks are kept for our own bugs, and go to a crash report
file (`tui.launch.report_crash`) while the terminal gets one line. Exit statuses: 0 all good,
1 something failed (a divergence, a failed expectation, an invalid or unrunnable scenario, a
crash), 2 usage errors (and no terminal for the app), 130 interrupted.

Heavy imports (the kernels, rich) happen inside the commands that need them, so ``muxlab schema``
and ``muxlab validate`` stay quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are returned as exit status 2 instead of raising SystemExit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _path(text: str) -> Path:
    """A path argument; an empty one is refused (``Path("")`` would silently mean ``.``)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog="muxlab",
        description="Watch Unix I/O multiplexing happen: a kernel model in lockstep with "
        "the real kernel. Without a command, opens the lesson menu.",
    )
    # How `muxlab serve` starts each browser's app (not for people): opening files is off, or
    # confined to --open-dir.
    parser.add_argument("--served", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--open-dir", type=Path, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="run scenarios on the model and the real kernel; fail on any divergence",
        description="Run scenarios in lockstep (default: the shipped ones). One line per "
        "scenario and a summary; exit status 1 if any step diverged or failed its expectation.",
    )
    check.add_argument("paths", nargs="*", type=_path, metavar="PATH", help="files or folders")
    check.add_argument(
        "--no-live", action="store_true", help="run the model only (every step is model only)"
    )
    _param_option(check)

    validate = commands.add_parser(
        "validate", help="check scenario files against the format without running them"
    )
    validate.add_argument("files", nargs="+", type=_path, metavar="FILE")
    _param_option(validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the scenario format")
    schema.add_argument(
        "--challenge", action="store_true", help="the schema of challenge files instead"
    )

    play = commands.add_parser("play", help="play a scenario (--headless: print it)")
    play.add_argument("file", type=_path, metavar="FILE")
    play.add_argument(
        "--headless", action="store_true", help="print every step to stdout instead of the app"
    )
    play.add_argument(
        "--json",
        action="store_true",
        help="print the step records as JSON lines (implies --headless)",
    )
    play.add_argument("--no-live", action="store_true", help="run the model only")
    _param_option(play)
    play.add_argument(
        "--replay", type=_path, metavar="RECORDING", help="use a saved recording, not the kernel"
    )
    play.add_argument(
        "--record", type=_path, metavar="RECORDING", help="save the live answers to this file"
    )
    play.add_argument("--width", type=int, metavar="COLUMNS", help="output width (default: auto)")
    play.add_argument(
        "--predict", action="store_true", help="in the app: start with predict mode on"
    )

    serve = commands.add_parser(
        "serve",
        help="serve the app to web browsers (textual-serve), on 127.0.0.1 by default",
        description="Serve the app at http://127.0.0.1:PORT/?token=... (textual-serve; each "
        "browser tab runs its own app): the lesson menu, or FILE played as by `muxlab play "
        "FILE`. Open the URL it prints: it carries a random token, required for every page "
        "and session.",
    )
    serve.add_argument("file", type=Path, nargs="?", metavar="FILE", help="a scenario to play")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only); another one "
        "serves other machines too, with a warning",
    )
    serve.add_argument(
        "--max-sessions",
        type=int,
        metavar="N",
        help="at most N apps at once, one per browser tab (1-64; default: 40, a class, or "
        "fewer if the memory available is short)",
    )
    serve.add_argument(
        "--open-dir",
        dest="serve_open_dir",
        type=Path,
        metavar="DIR",
        help="let the `o` dialog open scenario files inside DIR (default: `o` is off)",
    )
    serve.add_argument("--no-live", action="store_true", help="with FILE: the model only")
    _param_option(serve)

    # --- muxlab lab (tui/lab_cli.py) ---
    from tui import lab_cli

    lab_cli.add_parser(commands)
    # --- the sandbox (issue 14) ---------------------------------------------------------------
    sandbox = commands.add_parser(
        "sandbox",
        help="type calls and watch both kernels answer (--headless: read them from FILE or -)",
        description="Python call syntax over the scenario vocabulary, one call per line "
        "(a, b = socketpair(); epoll_ctl(ep, ADD, a, IN | ET); ...), run on the model and the "
        "real kernel in lockstep. With --headless, lines come from FILE (or stdin: -) and each "
        "is printed with both answers and the verdict; exit status 1 if a line diverged or "
        "could not run.",
    )
    sandbox.add_argument("file", type=_path, nargs="?", metavar="FILE", help="lines to run, or -")
    sandbox.add_argument("--headless", action="store_true", help="print instead of the app")
    sandbox.add_argument(
        "--json", action="store_true", help="one JSON object per line (implies --headless)"
    )
    sandbox.add_argument("--no-live", action="store_true", help="run the model only")
    sandbox.add_argument(
        "--save", type=_path, metavar="OUT.toml", help="write the session as a scenario file"
    )
    sandbox.add_argument(
        "--challenge",
        metavar="NAME|FILE",
        help="a goal to reach (a shipped challenge's name, or a challenge file)",
    )

    # --- frames for slides and handouts (issue 14) ---------------------------------------------
    export = commands.add_parser(
        "export",
        help="write each step of a scenario as an SVG frame (slides, handouts)",
        description="Run FILE as `muxlab play FILE --headless` does and write each step (or "
        "--step N) as an SVG: the call, both answers, the verdict, the narration and the "
        "model's pictures, at --width columns, into --out DIR (made if missing).",
    )
    export.add_argument("file", type=_path, metavar="FILE")
    export.add_argument("--out", type=_path, metavar="DIR", help="default: FILE's name + -frames")
    export.add_argument("--step", type=int, metavar="N", help="only step N (1 is the first)")
    export.add_argument("--width", type=int, default=100, metavar="COLUMNS", help="default 100")
    export.add_argument("--no-live", action="store_true", help="run the model only")
    _param_option(export)

    # --- the course as a static site (issue 15) -----------------------------------------------
    site = commands.add_parser(
        "site",
        help="write the course as a MkDocs Material project (a static site)",
        description="Run every lesson (default: the shipped ones; or the PATHs, files or "
        "folders) and write into OUT_DIR a MkDocs project: one page per lesson with every "
        "step's answers and picture, chapters in order. Build the HTML with "
        "`mkdocs build -f OUT_DIR/mkdocs.yml`.",
    )
    site.add_argument("out", type=_path, metavar="OUT_DIR", help="made if missing")
    site.add_argument("paths", nargs="*", type=_path, metavar="PATH", help="files or folders")
    site.add_argument(
        "--no-live", action="store_true", help="run the model only (faster; pages say so)"
    )
    site.add_argument("--width", type=int, default=100, metavar="COLUMNS", help="default 100")

    # --- the course (issue 15) -----------------------------------------------------------------
    from tui import lessons_cli

    lessons_cli.add_parser(commands)
    return parser


# --- knobs (issue 14): --param NAME=VALUE, checked against the file's [params] when it loads ---
def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (like N=100), got {text!r}")
    return name.strip(), value.strip()


def _param_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a knob the scenario declares in [params] (repeatable)",
    )


def _params(args: argparse.Namespace) -> dict[str, str]:
    return dict(args.param)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script passes it to exit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        # The lesson menu, the most common start: building the parser imports every command's
        # options (the lab's and the course's modules), time the menu's first frame waits for.
        args = argparse.Namespace(command=None, served=False, open_dir=None)
    else:
        try:
            args = build_parser().parse_args(argv)
        except _UsageError as exc:
            print(exc, file=sys.stderr)
            return EXIT_USAGE
        except SystemExit as exc:  # --help
            return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        if args.command is None:
            from tui.launch import run_app

            return run_app(served=args.served, open_dir=args.open_dir)
        if args.command == "serve":
            from tui.launch import serve

            if (args.no_live or args.param) and args.file is None:
                option = "--no-live" if args.no_live else "--param"
                print(f"muxlab: {option} needs a FILE", file=sys.stderr)
                return EXIT_USAGE
            return serve(
                args.file,
                host=args.host,
                port=args.port,
                live=not args.no_live,
                max_sessions=args.max_sessions,
                open_dir=args.serve_open_dir,
                params=_params(args),
            )
        if args.command == "schema" and args.challenge:
            import json

            from simulator.scenario.challenge import challenge_schema

            sys.stdout.write(json.dumps(challenge_schema(), indent=2) + "\n")
            return EXIT_OK
        if args.command == "schema":
            return cmd_schema(sys.stdout)
        if args.command == "validate":
            return cmd_validate(args.files, sys.stdout, sys.stderr, _params(args))
        if args.command == "check":
            return cmd_check(
                args.paths, live=not args.no_live, out=sys.stdout, params=_params(args)
            )
        if args.command == "play":
            return cmd_play(args)
        if args.command == "lab":
            from tui.lab_cli import cmd_lab

            return cmd_lab(args)
        if args.command == "sandbox":
            return cmd_sandbox(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "site":
            return cmd_site(args)
        if args.command == "lessons":  # the course (issue 15)
            from tui.lessons_cli import cmd_lessons

            return cmd_lessons(args.folder, json_lines=args.json, out=sys.stdout)
    except KeyboardInterrupt:
        print("muxlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `muxlab play x --headless | head`
        return EXIT_OK
    except Exception as exc:  # a bug of ours: one line here, the traceback in a report file
        from tui.launch import report_crash

        return report_crash(exc)
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def cmd_schema(out: TextIO) -> int:
    import json

    from simulator.scenario.format import json_schema

    out.write(json.dumps(json_schema(), indent=2) + "\n")
    return EXIT_OK


def cmd_validate(
    files: Sequence[Path], out: TextIO, err: TextIO, params: Mapping[str, str] | None = None
) -> int:
    """Check each file (a scenario, its knobs set by `params`, or a challenge)."""
    from simulator.scenario.format import printable
    from simulator.scenario.loader import ScenarioError, load_scenario

    status = EXIT_OK
    for path in files:
        if _is_challenge(path):
            if params:
                name = printable(str(path))
                print(f"muxlab: {name}: a challenge has no knobs (--param)", file=err)
                status = EXIT_FAILED
                continue
            status = max(status, _validate_challenge(path, out, err))
            continue
        try:
            scenario = load_scenario(path, params)
        except ScenarioError as exc:
            print(exc.report(), file=err)
            status = EXIT_FAILED
        else:
            print(f"{printable(str(path))}: ok ({len(scenario.steps)} steps)", file=out)
    return status


def _is_challenge(path: Path) -> bool:
    """Whether `path` looks like a challenge file (a ``[challenge]`` table, no ``[scenario]``);
    anything unreadable is left to the scenario loader, which says why."""
    import tomllib

    from simulator.scenario.loader import ScenarioError, read_text

    try:  # read as the loader reads (a FIFO, a device or a huge file is not read here)
        document = tomllib.loads(read_text(path))
    except (ScenarioError, tomllib.TOMLDecodeError, RecursionError):
        return False
    return "challenge" in document and "scenario" not in document


def _validate_challenge(path: Path, out: TextIO, err: TextIO) -> int:
    from simulator.scenario.challenge import load_challenge
    from simulator.scenario.format import printable
    from simulator.scenario.loader import ScenarioError

    try:
        challenge = load_challenge(path)
    except ScenarioError as exc:
        print(exc.report(), file=err)
        return EXIT_FAILED
    count = len(challenge.needs)
    needs = f"{count} need" + ("s" if count != 1 else "")
    print(f"{printable(str(path))}: ok (a challenge, {needs})", file=out)
    return EXIT_OK


def cmd_check(
    paths: Sequence[Path], *, live: bool, out: TextIO, params: Mapping[str, str] | None = None
) -> int:
    from simulator.scenario.check import check_files
    from simulator.scenario.library import course_files, shipped_dir

    if not paths:
        shipped = shipped_dir()
        if shipped is None:
            print("muxlab: this installation has no shipped scenarios", file=sys.stderr)
            return EXIT_FAILED
        paths = [shipped]
    files, challenges, empty = course_files(list(paths))
    for folder in empty:
        print(f"muxlab: no scenario files (*.toml) in {folder}", file=sys.stderr)
    # A challenge (scenarios/challenges/) is not a run of steps: it is validated as a challenge.
    status = EXIT_OK
    for challenge in challenges:
        status = max(status, _validate_challenge(challenge, out, sys.stderr))
    if not files:
        return EXIT_FAILED if empty or not challenges else status
    summary = check_files(files, live=live, out=out, params=params)
    return EXIT_FAILED if summary.failed or empty else status


def cmd_play(args: argparse.Namespace) -> int:
    if args.replay and (args.record or args.no_live):
        print("muxlab: --replay cannot be combined with --record or --no-live", file=sys.stderr)
        return EXIT_USAGE
    problem = None
    if args.predict and (args.headless or args.json):
        problem = "--predict is for the app; --headless and --json print every answer"
    elif args.record and args.no_live:
        problem = (
            "--record saves the live kernel's answers: with --no-live there is nothing to record"
        )
    elif args.record:
        problem = _cannot_record(args.record, args.file)
    if problem:
        print(f"muxlab: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not (args.headless or args.json):
        if args.width is not None:
            print("muxlab: --width needs --headless", file=sys.stderr)
            return EXIT_USAGE
        from tui.launch import run_app

        return run_app(
            args.file,
            live=not args.no_live,
            replay=args.replay,
            record=args.record,
            predict=args.predict,
            served=args.served,
            open_dir=args.open_dir,
            params=_params(args),
        )
    if args.width is not None and not 40 <= args.width <= 1000:
        print("muxlab: --width must be between 40 and 1000", file=sys.stderr)
        return EXIT_USAGE
    from tui.headless import play

    return play(
        args.file,
        as_json=args.json,
        live=not args.no_live,
        replay=args.replay,
        record=args.record,
        width=args.width,
        params=_params(args),
    )


def cmd_sandbox(args: argparse.Namespace) -> int:
    """``muxlab sandbox``: the app's sandbox, or (--headless, --json) a script run in print."""
    challenge = None
    if args.challenge is not None:
        from simulator.scenario.challenge import find_challenge, load_challenge
        from simulator.scenario.loader import ScenarioError

        try:
            challenge = load_challenge(find_challenge(args.challenge))
        except ScenarioError as exc:
            print(exc.report(), file=sys.stderr)
            return EXIT_FAILED
    if not (args.headless or args.json):
        if args.file is not None or args.save is not None:
            print(
                "muxlab: FILE and --save are for --headless; in the app, type `save FILE`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        from tui.launch import run_app

        return run_app(
            live=not args.no_live,
            served=args.served,
            sandbox=True,
            challenge=None if challenge is None else args.challenge,
        )
    from tui.sandbox_headless import run

    return run(
        args.file, as_json=args.json, live=not args.no_live, save=args.save, challenge=challenge
    )


def cmd_export(args: argparse.Namespace) -> int:
    """``muxlab export FILE``: the steps as SVG frames."""
    if not 40 <= args.width <= 1000:
        print("muxlab: --width must be between 40 and 1000", file=sys.stderr)
        return EXIT_USAGE
    from tui.export import export

    out = args.out if args.out is not None else Path(f"{args.file.stem}-frames")
    return export(
        args.file,
        out,
        step=args.step,
        width=args.width,
        live=not args.no_live,
        params=_params(args),
    )


def cmd_site(args: argparse.Namespace) -> int:
    """``muxlab site OUT_DIR [PATH...]``: the course as a MkDocs project."""
    if not 40 <= args.width <= 1000:
        print("muxlab: --width must be between 40 and 1000", file=sys.stderr)
        return EXIT_USAGE
    from tui.site import build

    return build(args.out, args.paths, live=not args.no_live, width=args.width)


def _cannot_record(record: Path, scenario: Path) -> str | None:
    """Why `record` must not be written (checked before the run, so no run is wasted and no
    file is clobbered), or None. Only an old recording is overwritten."""
    from simulator.scenario.recording import FORMAT

    if not record.parent.is_dir():
        return f"--record {record}: no such folder {record.parent}"
    if record.is_dir():
        return f"--record {record}: is a folder; give a file name"
    if not record.exists():
        return None
    try:
        if scenario.exists() and record.samefile(scenario):
            return f"--record {record}: that is the scenario file itself; choose another file"
        if not record.is_file():  # a FIFO or a device would block the read, or never end
            return f"--record {record}: is not a regular file; choose another name"
        with record.open("rb") as existing:
            start = existing.read(4096)
    except OSError as exc:
        return f"--record {record}: {exc.strerror or exc}"
    if b'"format"' not in start or FORMAT.encode() not in start:
        return (
            f"--record {record}: the file exists and is not a muxlab recording; "
            "choose another name (or remove the file)"
        )
    return None
