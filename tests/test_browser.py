"""The served app in a real browser: ``muxlab serve`` on a free loopback port, opened in headless
Chromium driven over the DevTools protocol (CDP) with real key events, read back from xterm.js,
and screenshotted.

textual-serve draws the terminal with xterm.js on a canvas, so the screen's text is not in the
DOM; a small script, run before the page's own, keeps a reference to the xterm ``Terminal`` and
the test reads its buffer. The screenshot is checked for size and content (how many pixels
differ from the background in a region), never pixel by pixel: fonts differ between machines.

Skipped only when there is no Chromium binary (under CI, where `.ci/run` installs it, that
fails instead). Everything started here (the server, the apps it spawns, the browser) runs in
its own process group and is killed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary (skipped without one; a failure under CI: see `require_tool`)."""
    return require_tool(
        CHROMIUM,
        "Chromium (chromium, chromium-browser or google-chrome)",
        "apt-get install chromium",
    )


pytestmark = pytest.mark.usefixtures("chromium")

WIDTH, HEIGHT = 1280, 800

# Runs before textual.js: the first object given a `terminal` property that looks like an xterm
# Terminal (textual.js does `this.terminal = new Terminal(...)`) is kept in window.__muxlabTerm.
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (!window.__muxlabTerm && value && typeof value.write === "function" && value.buffer) {
      window.__muxlabTerm = value;
    }
  },
});
"""

SCREEN_TEXT = """(() => {
  const term = window.__muxlabTerm;
  if (!term) return null;
  const buffer = term.buffer.active, rows = [];
  for (let i = 0; i < term.rows; i++) {
    const line = buffer.getLine(buffer.viewportY + i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()"""

# key name -> (key, code, virtual key code, text typed)
KEYS = {
    "Down": ("ArrowDown", "ArrowDown", 40, ""),
    "Right": ("ArrowRight", "ArrowRight", 39, ""),
    "Enter": ("Enter", "Enter", 13, "\r"),
    "Escape": ("Escape", "Escape", 27, ""),
    "l": ("l", "KeyL", 76, "l"),
    "x": ("x", "KeyX", 88, "x"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def stop_group(process: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """SIGTERM the process group `process` leads, then SIGKILL whatever is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=grace)


def group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs. A zombie has ended (it only waits for
    its parent, or init, to reap it, which here took up to a second after every stop)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()  # after "pid (comm)"
        except OSError:  # ended while we looked
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def assert_group_gone(pgid: int, name: str) -> None:
    """Every process of the group ended (killed ones may linger as zombies: see `group_alive`)."""
    wait_until(f"every process of {name} to end", lambda: not group_alive(pgid), timeout=10)


class Page:
    """One browser tab over CDP (a synchronous websocket; one command at a time)."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.stack = ExitStack()
        self.ws = self.stack.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self.ids = count(1)

    def send(self, method: str, timeout: float = 10.0, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"CDP {method} got no answer in {timeout:g} s")
            message = json.loads(self.ws.recv(timeout=left))
            if message.get("id") != ident:
                continue  # an event
            if "error" in message:
                raise AssertionError(f"CDP {method} failed: {message['error']}")
            return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def screen(self) -> str:
        return self.evaluate(SCREEN_TEXT) or ""

    def wait_for_screen(self, what: str, check: Callable[[str], bool], timeout: float) -> str:
        last = [""]

        def probe() -> str | None:
            last[0] = self.screen()
            return last[0] if check(last[0]) else None

        try:
            return str(wait_until(what, probe, timeout))
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen was:\n{last[0]}") from None

    def press(self, name: str) -> None:
        key, code, vk, text = KEYS[name]
        common: dict[str, Any] = {"key": key, "code": code, "windowsVirtualKeyCode": vk}
        if text:
            self.send("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        else:
            self.send("Input.dispatchKeyEvent", type="rawKeyDown", **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def type_text(self, text: str) -> None:
        """Type `text` into the focused element, as an input method commits it."""
        self.send("Input.insertText", text=text)

    def screenshot(self) -> bytes:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        return base64.b64decode(data)

    def close(self) -> None:
        self.stack.close()


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) pixels of an 8-bit, non-interlaced PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        how, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if how == 1:
                line[i] = (line[i] + left) & 0xFF
            elif how == 2:
                line[i] = (line[i] + up) & 0xFF
            elif how == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif how == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line[j] for j in range(stride) if j % channels < 3))
        previous = line
    return width, height, rows


Box = tuple[int, int, int, int]


def ink(rows: list[bytes], box: Box) -> tuple[int, int]:
    """(pixels unlike the region's commonest colour, distinct colours) in box = x0, y0, x1, y1."""
    x0, y0, x1, y1 = box
    pixels = [row[x * 3 : x * 3 + 3] for row in rows[y0:y1] for x in range(x0, x1)]
    colours = Counter(pixels)
    background, _ = colours.most_common(1)[0]
    return sum(n for c, n in colours.items() if c != background), len(colours)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`muxlab serve` on a free loopback port; yields the URL it printed (with its token).
    One for the module, as `page` is: each test opens its own session (``Page.navigate``)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["MUXLAB_DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url_printed = re.compile(rf"http://127\.0\.0\.1:{port}/\?token=\S+")

    def up() -> str | None:
        """The URL `muxlab serve` printed (it carries the token), once the page answers."""
        if process.poll() is not None:
            raise AssertionError(f"muxlab serve exited: {(tmp_path / 'serve.log').read_text()}")
        printed = url_printed.search((tmp_path / "serve.log").read_text())
        if printed is None:
            return None
        try:
            with urllib.request.urlopen(printed.group(0), timeout=2) as answer:
                return printed.group(0) if answer.status == 200 else None
        except OSError:
            return None

    try:
        yield wait_until("muxlab serve to answer", up, timeout=15)
    finally:
        stop_group(process)
        log.close()
        assert_group_gone(process.pid, "muxlab serve")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Page]:
    """A fresh headless Chromium with one tab, for the module (starting one took 2-3 s):
    each test navigates it to the served page, which starts the app anew."""
    tmp_path = tmp_path_factory.mktemp("chromium")
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    log = (tmp_path / "chromium.log").open("w")
    process = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            # nothing but the loopback server (the page links a web font; fail that at once)
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    tab: Page | None = None
    try:

        def devtools_port() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"chromium exited: {(tmp_path / 'chromium.log').read_text()}")
            try:  # Chromium writes the port it chose here
                return int((profile / "DevToolsActivePort").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                return None

        port = wait_until("chromium's DevTools port", devtools_port, timeout=20)

        def page_url() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                targets = json.load(r)
            pages = [t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"]
            return pages[0] if pages else None

        tab = Page(wait_until("a chromium tab", page_url, timeout=10))
        tab.send("Page.enable")
        tab.send("Runtime.enable")
        tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        tab.send("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
        yield tab
    finally:
        if tab is not None:
            tab.close()
        stop_group(process)
        log.close()
        assert_group_gone(process.pid, "chromium")


GEOMETRY = """(() => {
  const term = window.__muxlabTerm, box = document.querySelector(".xterm-screen")
    .getBoundingClientRect();
  return [box.left, box.top, box.width / term.cols, box.height / term.rows, term.cols, term.rows];
})()"""


def test_served_app_in_headless_chromium(server: str, page: Page, tmp_path: Path) -> None:
    page.send("Page.navigate", url=server)
    menu = page.wait_for_screen(
        "the lesson menu", lambda s: "Lessons" in s and "About this lesson" in s, timeout=25
    )
    page.evaluate("window.__muxlabTerm.focus()")  # the keyboard goes to xterm's textarea
    page.press("Enter")  # the lesson a newcomer starts with ("start here")
    opened = page.wait_for_screen("the player", lambda s: "step 0/" in s, timeout=20)
    assert "Kernel model" in opened and "Real kernel" in opened, opened
    (tmp_path / "step0.png").write_bytes(page.screenshot())
    page.press("l")
    shown = page.wait_for_screen("step 1", lambda s: "step 1/" in s, timeout=20)
    page.press("Right")  # step 2 asks a question first (the first lesson's predict step)
    page.wait_for_screen("the question", lambda s: "Predict step 2" in s, timeout=20)
    page.press("Escape")  # skipped: the step runs
    screen = page.wait_for_screen(
        "step 2", lambda s: "step 2/" in s and "Predict step" not in s, timeout=20
    )
    assert "verdict" in screen, screen
    print(f"menu:\n{menu}\nstep 1:\n{shown}\nscreenshots in {tmp_path}")

    def picture_matches(screen: str) -> None:
        """The screenshot shows what the terminal's text says (raises AssertionError)."""
        png = page.screenshot()
        (tmp_path / "step2.png").write_bytes(png)  # left in pytest's tmp_path, to look at

        width, height, rows = decode_png(png)
        assert (width, height) == (WIDTH, HEIGHT)
        painted, colours = ink(rows, (0, 0, width, height))
        assert painted > width * height // 50 and colours >= 8, (painted, colours)

        # Where the text says there are glyphs there is ink, and where it says blank there is none.
        left, top, cell_w, cell_h, cols, nrows = page.evaluate(GEOMETRY)
        lines = screen.split("\n")
        assert nrows == len(lines), (nrows, len(lines))

        def cells(row: int, col0: int, col1: int, height_in_rows: int = 1) -> Box:
            return (
                round(left + col0 * cell_w),
                round(top + row * cell_h),
                round(left + col1 * cell_w),
                round(top + (row + height_in_rows) * cell_h),
            )

        row = next(i for i, line in enumerate(lines) if "step 2/" in line)
        col = lines[row].index("step 2/")
        box = cells(row, col, col + len("step 2/"))
        glyphs, _ = ink(rows, box)
        area = (box[2] - box[0]) * (box[3] - box[1])
        assert area * 0.05 < glyphs < area * 0.7, (glyphs, area)

        # The tallest run of rows blank in the right third (inside the real-kernel panel's border).
        col0, col1 = cols * 2 // 3 + 2, cols - 2
        blank = [line.ljust(cols)[col0:col1].strip() == "" for line in lines]
        best, start = (0, 0), None
        for i, empty in enumerate([*blank, False]):
            if empty and start is None:
                start = i
            elif not empty and start is not None:
                best, start = max(best, (i - start, start)), None
        run, first = best
        assert run >= 5, f"no blank area in the right panel:\n{screen}"
        box = cells(first, col0, col1, run)
        stray, _ = ink(rows, box)
        assert stray < (box[2] - box[0]) * (box[3] - box[1]) * 0.01, stray

    # xterm.js paints its canvas a frame after its text changes (the question's dialog has just
    # closed): the picture must match the text within a few seconds, then it is checked once more
    # with its message.
    def settled() -> bool:
        text = page.screen()
        try:
            picture_matches(text)
        except AssertionError:
            return False
        return True

    with suppress(AssertionError):
        wait_until("the picture to match the text", settled, timeout=10)
    picture_matches(page.screen())


# --- the sandbox in the browser (issue 14) ---------------------------------------------------

SANDBOX_LINES = [
    "a, b = socketpair()",
    "ep = epoll_create()",
    "epoll_ctl(ep, ADD, a, IN | ET)",
    "send(b, 5)",
    "epoll_wait(ep, 8, 0)",
]


def test_the_sandbox_answers_in_the_browser(server: str, page: Page) -> None:
    page.send("Page.navigate", url=server)
    page.wait_for_screen("the lesson menu", lambda s: "About this lesson" in s, timeout=25)
    page.evaluate("window.__muxlabTerm.focus()")
    page.press("x")  # the menu's key for the sandbox
    page.wait_for_screen("the sandbox", lambda s: "a call, e.g." in s, timeout=20)
    for number, line in enumerate(SANDBOX_LINES, 1):
        page.type_text(line)
        page.press("Enter")
        shown = f"step {number}/{number}"
        page.wait_for_screen(shown, lambda s: shown in s and " agree" in s, timeout=20)  # noqa: B023
    # both kernels answered the wait, in the learner's names, and agreed
    screen = page.wait_for_screen(
        "both kernels' answers",
        lambda s: "model: [(a, IN)]   real: [(a, IN)]   agree" in s,
        timeout=20,
    )
    assert "child pid" in screen and "Real kernel" in screen, screen
