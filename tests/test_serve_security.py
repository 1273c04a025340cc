"""`muxlab serve` refuses what a foreign web page could do with it (issue 8, item 3): a real
`muxlab serve` subprocess on a free loopback port, real HTTP requests (http.client) and a real
websocket client (websockets) with a bad Origin, no token, a wrong token, too many sessions and
a huge terminal; the `o` dialog driven through the websocket as the browser drives it.

Everything started here runs in its own process group and is killed at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.test_browser import ROOT, assert_group_gone, free_port, stop_group, wait_until

# CSI sequences (cursor moves, colours, modes) and OSC strings: what is left is the text drawn.
ESCAPES = re.compile(r"\x1b\[[0-9;?$<>=]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class Served:
    port: int
    token: str
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, target: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        """One real HTTP GET: (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", target, headers=headers or {})
            answer = conn.getresponse()
            return answer.status, answer.headers, answer.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def ws(self, target: str, origin: str | None = "") -> ClientConnection:
        """A real websocket to `target`; `origin` "" means this server's own origin."""
        return connect(
            f"ws://127.0.0.1:{self.port}{target}",
            origin=self.origin if origin == "" else origin,  # type: ignore[arg-type]
            proxy=None,
            max_size=None,
            open_timeout=10,
        )


@contextmanager
def serving(
    tmp_path: Path, *args: str, cwd: Path = ROOT, program: tuple[str, ...] = ()
) -> Iterator[Served]:
    """`muxlab serve ARGS` (run as `program`, by default ``python -m tui``, in `cwd`)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["MUXLAB_DATA_DIR"] = str(tmp_path / "data")
    log_path = tmp_path / f"serve-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [*(program or (sys.executable, "-m", "tui")), "serve", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"muxlab serve exited: {log_path.read_text()}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until("muxlab serve to listen", listening, timeout=20)
        printed = re.search(rf"http://127\.0\.0\.1:{port}/\?token=(\S+)", log_path.read_text())
        token = printed.group(1) if printed else ""  # "": the tests say what that lets through
        yield Served(port, token, log_path)
    finally:
        stop_group(process)
        log.close()
        assert_group_gone(process.pid, "muxlab serve")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the tests of its defaults: none changes it (each closes its sessions),
    and each of its starts and stops cost ~3 s."""
    with serving(tmp_path_factory.mktemp("served")) as started:
        yield started


def refused(served: Served, target: str, origin: str | None = "") -> tuple[int, str]:
    """The status and body with which the websocket handshake to `target` is refused."""
    with pytest.raises(InvalidStatus) as caught:
        served.ws(target, origin).close()
    response = caught.value.response
    return response.status_code, response.body.decode("utf-8", "replace") if response.body else ""


def read_until(ws: ClientConnection, want: str, timeout: float = 30, rest: float = 1) -> str:
    """The app's output (escapes and all) until its text contains `want`, and `rest` seconds
    more: the rest of that frame (0 where the caller only waits for `want`)."""
    data = ""
    deadline = time.monotonic() + timeout
    while want not in ESCAPES.sub("", data):
        left = deadline - time.monotonic()
        if left <= 0:
            text = ESCAPES.sub("", data)
            raise AssertionError(f"{want!r} never appeared; the app drew:\n{text[-3000:]}")
        with contextlib.suppress(TimeoutError):
            data += decoded(ws.recv(timeout=left))
    return data + read_for(ws, rest) if rest else data


def read_for(ws: ClientConnection, seconds: float) -> str:
    """The app's output in the next `seconds` (pongs, which are text frames, are left out)."""
    data, deadline = "", time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            data += decoded(ws.recv(timeout=left))
        except TimeoutError:
            break
    return data


def decoded(message: str | bytes) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else ""


def type_keys(ws: ClientConnection, keys: str) -> None:
    ws.send(f'["stdin", {keys!r}]'.replace("'", '"'))


# --- the token -------------------------------------------------------------------------------


def test_page_without_the_printed_token_is_403(served: Served) -> None:
    assert served.token, f"no URL with a token printed:\n{served.log.read_text()}"
    for target in ("/", "/?token=", "/?token=wrong", f"/?token={served.token[:-1]}", "/download/x"):
        status, _, body = served.get(target)
        assert status == 403, (target, status, body)
        assert body.startswith("muxlab: ") and "token" in body, body
        assert "Traceback" not in body and body.count("\n") == 1, body


def test_page_with_the_token_sets_a_cookie_and_carries_the_token_to_its_websocket(
    served: Served,
) -> None:
    status, headers, body = served.get(f"/?token={served.token}")
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    assert f"muxlab-token-{served.port}={served.token}" in cookie, cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    # textual.js appends "?width=..&height=.." to this URL, so the token is in its path
    assert f'data-session-websocket-url="ws://127.0.0.1:{served.port}/ws/{served.token}"' in body
    # Jupyter's way: the cookie alone opens the page again
    status, _, _ = served.get("/", {"Cookie": f"muxlab-token-{served.port}={served.token}"})
    assert status == 200
    status, _, _ = served.get("/", {"Cookie": f"muxlab-token-{served.port}=wrong"})
    assert status == 403
    # a DNS-rebound name reaches the loopback server with a foreign Host: refused
    status, _, body = served.get(f"/?token={served.token}", {"Host": f"evil.example:{served.port}"})
    assert status == 403, body


def test_websocket_needs_the_token_and_this_servers_origin(served: Served) -> None:
    token = served.token
    assert refused(served, "/ws?width=80&height=24")[0] == 403
    assert refused(served, "/ws/wrong-token?width=80&height=24")[0] == 403
    status, body = refused(served, f"/ws/{token}", origin="http://evil.example")
    assert status == 403 and "muxlab: websocket refused" in body, body
    other_port = f"http://127.0.0.1:{served.port + 1}"  # another local service's page
    assert refused(served, f"/ws/{token}", origin=other_port)[0] == 403
    assert refused(served, f"/ws/{token}", origin=None)[0] == 403
    with served.ws(f"/ws/{token}?width=100&height=30") as ws:
        read_until(ws, "Lessons", rest=0)


# --- the terminal size -----------------------------------------------------------------------


def drawn_extent(output: str) -> tuple[int, int]:
    """The largest row and column the app moved the cursor to (1-based)."""
    moves = [(int(r), int(c)) for r, c in re.findall(r"\x1b\[(\d+);(\d+)H", output)]
    assert moves, "the app drew nothing"
    return max(r for r, _ in moves), max(c for _, c in moves)


def test_terminal_size_is_clamped_at_connect_and_on_resize(served: Served) -> None:
    with served.ws(f"/ws/{served.token}?width=900&height=300") as ws:
        rows, cols = drawn_extent(read_until(ws, "Lessons"))
        assert rows == 200 and cols <= 500, (rows, cols)  # the menu fills 500x200
        ws.send('["resize", {"width": 4000, "height": 4000}]')
        ws.send('["resize", {"width": "x", "height": null}]')  # 80x24
        ws.send("not json")
        ws.send('["stdin"]')
        ws.send('["ping", "still here"]')
        output = ""
        while isinstance(message := ws.recv(timeout=10), bytes):  # redraws, then the pong
            output += decoded(message)
        assert message == '["pong", "still here"]'  # the server read on
        rows, cols = drawn_extent(output + read_for(ws, 3))
        assert rows <= 200 and cols <= 500, (rows, cols)
    with served.ws(f"/ws/{served.token}?width=4000&height=4000") as ws:
        rows, cols = drawn_extent(read_until(ws, "Lessons"))
        assert rows == 200 and cols <= 500, (rows, cols)
    with served.ws(f"/ws/{served.token}?width=-5&height=abc") as ws:  # 20 x the default 24
        rows, cols = drawn_extent(read_until(ws, "Lessons"))
        assert rows == 24 and cols <= 20, (rows, cols)


# --- the session cap -------------------------------------------------------------------------


def test_sessions_beyond_max_sessions_are_refused_with_a_message(tmp_path: Path) -> None:
    with serving(tmp_path, "--max-sessions", "2") as served:
        assert "at most 2 sessions" in served.log.read_text()
        target = f"/ws/{served.token}?width=80&height=24"
        with served.ws(target) as first, served.ws(target) as second:
            read_until(first, "Lessons", rest=0)
            read_until(second, "Lessons", rest=0)
            status, body = refused(served, target)
            assert status == 503, body
            assert "all 2 sessions are in use" in body and "--max-sessions" in body, body
            status, _, page = served.get(f"/?token={served.token}")
            assert status == 503 and "all 2 sessions are in use" in page, page
            assert page.startswith("muxlab: ") and "Traceback" not in page
        # both closed: their apps end and their places are free again

        def third_starts() -> bool:
            try:
                with served.ws(target) as third:
                    read_until(third, "Lessons", rest=0)
                    return True
            except InvalidStatus:
                return False

        wait_until("a session to be free again", third_starts, timeout=30)


# --- the `o` dialog ----------------------------------------------------------------------------

SCENARIO = ROOT / "scenarios" / "et-stall.toml"


def test_open_dialog_is_off_in_serve_without_open_dir(served: Served) -> None:
    with served.ws(f"/ws/{served.token}?width=120&height=40") as ws:
        read_until(ws, "Lessons", rest=0)
        type_keys(ws, "o")
        read_until(ws, "Opening files is off", rest=0)
        type_keys(ws, "/etc/passwd\r")  # would be typed into the dialog, if there were one
        assert "cannot be played" not in ESCAPES.sub("", read_for(ws, 3))


def test_open_dialog_stays_inside_open_dir(tmp_path: Path) -> None:
    inside = tmp_path / "lessons"
    inside.mkdir()
    (inside / "mine.toml").write_text(SCENARIO.read_text())
    outside = tmp_path / "secret.toml"
    outside.write_text('token = "do-not-show"\n')
    (inside / "escape.toml").symlink_to(outside)
    with (
        serving(tmp_path, "--open-dir", str(inside)) as served,
        served.ws(f"/ws/{served.token}?width=120&height=40") as ws,
    ):
        read_until(ws, "Lessons")
        for typed in ("../secret.toml", str(outside), "escape.toml"):
            type_keys(ws, "o")
            read_until(ws, "inside lessons/")  # the dialog's hint
            type_keys(ws, f"{typed}\r")
            text = ESCAPES.sub("", read_until(ws, "Only files inside"))
            assert "do-not-show" not in text and "cannot be played" not in text, typed
        type_keys(ws, "o")
        read_until(ws, "inside lessons/")
        type_keys(ws, "mine.toml\r")
        read_until(ws, "step 0/")


# --- the command line ------------------------------------------------------------------------


def muxlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-sessions", "0"], "--max-sessions must be between 1 and 64 (got 0)"),
        (["--max-sessions", "1000"], "--max-sessions must be between 1 and 64 (got 1000)"),
        (["--max-sessions", "many"], "argument --max-sessions: invalid int value: 'many'"),
        (["--open-dir", "no/such/folder"], "--open-dir no/such/folder: no such folder"),
    ],
)
def test_bad_serve_options_are_usage_errors(args: list[str], message: str) -> None:
    result = muxlab("serve", "--port", str(free_port()), *args)
    assert result.returncode == 2, result
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_wider_host_is_announced_with_a_warning() -> None:
    # The port is busy, so the server warns, then stops before serving anybody.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = muxlab("serve", "--host", "0.0.0.0", "--port", str(port))
    assert result.returncode == 1, result
    assert "warning: --host 0.0.0.0 serves other machines too" in result.stderr, result.stderr
    assert "the port is already in use" in result.stderr, result.stderr
    result = muxlab("serve", "--host", "no-such-host.invalid", "--port", str(free_port()))
    assert result.returncode == 1 and "cannot serve on no-such-host.invalid" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
