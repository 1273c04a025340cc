"""`muxlab serve` for a class (issue 15, item 5): the start message a teacher reads, the default
session cap, the page a learner gets when the class is full, and apps forked from the fork
server (`tui.forkserver`) -- with a real `muxlab serve` subprocess, real HTTP requests and real
websockets (`tests/test_serve_security.py`'s helpers). The figures for 40 sessions come from
`tests/benchmarks/bench_serve.py`, not from here.
"""

from __future__ import annotations

import os
import re
import signal
from functools import partial
from pathlib import Path

from websockets.exceptions import InvalidStatus

from tests.test_browser import wait_until
from tests.test_live_hardening import MUXLAB, plant_modules
from tests.test_serve_security import Served, read_until, refused, serving
from tui.webserver import CLASS_SIZE, SESSION_MIB, default_max_sessions


def test_the_start_message_tells_a_teacher_the_url_the_cap_and_how_others_join(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--max-sessions", "3") as served:
        text = served.log.read_text()
    assert f"http://127.0.0.1:{served.port}/?token={served.token}" in text, text
    assert "for up to 3 learners at once" in text and "at most 3 sessions at once" in text
    assert '"The class is full"' in text and "as soon as someone closes a tab" in text
    assert "Only this machine can join" in text and "--host 0.0.0.0" in text, text
    assert "Traceback" not in text


def test_the_default_cap_is_a_class_or_what_the_memory_allows(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        text = served.log.read_text()
    expected = default_max_sessions()
    assert f"at most {expected} sessions at once" in text, text
    plenty = f"MemTotal: 25000000 kB\nMemAvailable:   {64 * 1024 * 1024} kB\n"
    assert default_max_sessions(plenty) == CLASS_SIZE == 40
    small = f"MemAvailable: {10 * SESSION_MIB * 1024 + 5} kB\n"
    assert default_max_sessions(small) == 10
    assert default_max_sessions("MemAvailable: 1000 kB\n") == 1
    assert default_max_sessions("no such line\n") == CLASS_SIZE


def test_a_full_class_gives_a_browser_a_page_that_tries_again(tmp_path: Path) -> None:
    with serving(tmp_path, "--max-sessions", "1") as served:
        target = f"/ws/{served.token}?width=80&height=24"
        with served.ws(target) as first:
            read_until(first, "Lessons")
            browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
            status, headers, page = served.get(f"/?token={served.token}", browser)
            assert status == 503, page
            assert headers["Content-Type"].startswith("text/html"), headers
            assert headers["Retry-After"] == "10" and headers["Cache-Control"] == "no-store"
            assert "<h1>The class is full</h1>" in page and "All 1 places" in page, page
            assert '<meta http-equiv="refresh" content="10">' in page, page
            assert "--max-sessions N</code> allows up to 64" in page, page
            assert served.token not in page  # the reload keeps the URL the browser has
            status, _, line = served.get(f"/?token={served.token}")  # not a browser: one line
            assert status == 503 and line.startswith("muxlab: all 1 sessions are in use"), line
            assert refused(served, target)[0] == 503
        # the tab closed: the reload the page does gets the app's page again
        wait_until(
            "the place to be free",
            lambda: served.get(f"/?token={served.token}", browser)[0] == 200,
            timeout=30,
        )


def children(pid: int) -> list[int]:
    """The live children of `pid` (a killed one stays a zombie until it is waited for)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(parent) == pid and state != "Z":
            found.append(int(entry))
    return found


def ended(pid: int) -> bool:
    """Whether `pid` has exited (gone, or a zombie until its parent waits for it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def server_pid(served: Served) -> int:
    """The `muxlab serve` process listening on `served.port` (its log names no pid)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                line = cmdline(int(entry))
            except OSError:
                continue
            if re.search(rf"(tui|muxlab) serve --port {served.port}\b", line):
                return int(entry)
    raise AssertionError(f"no muxlab serve on port {served.port}")


def test_apps_are_forked_from_the_fork_server_and_started_anew_without_it(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--max-sessions", "3") as served:
        server = server_pid(served)
        (forkserver,) = [p for p in children(server) if "tui.forkserver" in cmdline(p)]
        target = f"/ws/{served.token}?width=100&height=30"
        with served.ws(target) as ws:
            read_until(ws, "Lessons")
            (app,) = children(forkserver)  # the app is the fork server's child, drawing
            assert Path(f"/proc/{app}/environ").read_bytes().count(b"TEXTUAL_DRIVER=") == 1
        os.kill(forkserver, signal.SIGKILL)
        wait_until("the fork server to end", lambda: forkserver not in children(server), 10)

        def starts() -> bool:
            try:
                with served.ws(target) as ws:
                    read_until(ws, "Lessons")  # started as a new process: the menu all the same
                    return True
            except InvalidStatus:  # the first app is still quitting: its place is not free yet
                return False

        wait_until("a session without the fork server", starts, timeout=30)
        logged = " ".join(served.log.read_text().split())  # the log's lines are wrapped
        assert "the fork server is gone" in logged, logged
        assert "starting the app as a new process" in logged, logged


def test_ctrl_c_stops_the_server_the_fork_server_and_the_apps_without_a_traceback(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--max-sessions", "2") as served:
        server = server_pid(served)
        (forkserver,) = [p for p in children(server) if "tui.forkserver" in cmdline(p)]
        with served.ws(f"/ws/{served.token}?width=100&height=30") as ws:
            read_until(ws, "Lessons")
            (app,) = children(forkserver)
            os.killpg(server, signal.SIGINT)  # what Ctrl+C in the teacher's terminal sends

            for pid in (app, forkserver, server):
                wait_until(f"process {pid} to end", partial(ended, pid), 30)
        logged = served.log.read_text()
        assert "Traceback" not in logged and "KeyboardInterrupt" not in logged, logged


def test_the_fork_server_and_its_apps_never_import_from_the_working_directory(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    plant_modules(folder, "tui", "simulator", "json", "socket", "signal", "textual", "rich")
    with (
        serving(tmp_path, "--max-sessions", "1", cwd=folder, program=(str(MUXLAB),)) as served,
        served.ws(f"/ws/{served.token}?width=100&height=30") as ws,
    ):
        read_until(ws, "Lessons")
        forkserver = [p for p in children(server_pid(served)) if "tui.forkserver" in cmdline(p)]
        assert len(forkserver) == 1 and len(children(forkserver[0])) == 1  # the app, forked
    assert sorted(p.name for p in folder.glob("imported-*")) == []
