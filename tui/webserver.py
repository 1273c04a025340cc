"""`muxlab serve`'s web server: textual-serve's `Server`, guarded.

textual-serve alone lets any web page drive the app: its websocket accepts every `Origin`, asks
for no secret, starts one app process (about 58 MB) per connection without limit, and passes the
terminal size from the query string straight to the app (4000x4000 kills it). `MuxlabServer`
keeps textual-serve's page, app protocol and processes, and adds, as Jupyter does:

- a random **token**: the URL printed on start carries it (`/?token=...`); the first page load
  with it sets a cookie (HttpOnly, SameSite=Strict), and the page's websocket URL carries it in
  its path (`/ws/<token>`; textual.js appends `?width=..&height=..` to that URL). Anything else
  without it -- the page, the websocket, downloads -- gets 403 and a one-line message. Tokens are
  compared in constant time (`hmac.compare_digest`). Only `/static/` (textual-serve's own
  scripts, styles and fonts) is public.
- an **Origin check** on the websocket: it must be this server as the browser reached it
  (`http://<Host>`); a missing or foreign `Origin` gets 403. When bound to a loopback address the
  `Host` itself must be a loopback name, so a DNS-rebound name cannot reach the server either.
- a **session cap** (`max_sessions`): when that many apps run, the page and the websocket answer
  503: a browser gets a page that says the class is full and reloads itself every `RETRY_S`
  seconds, anything else one line.
- a **bounded terminal**: the size asked for at connect time and in every resize message is
  clamped to `COLUMNS` x `ROWS`; malformed messages are ignored.

For a class that joins at once, apps are forked from `tui.forkserver` (when it started) instead
of each starting a new interpreter, and at most `STARTING` of them start at a time: one waits
until the one before it has drawn its first frame, so the first learners see the menu in
seconds instead of everyone at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tui.forkserver import ForkServer

log = logging.getLogger("muxlab.serve")

#: The terminal sizes an app may be given (columns, rows); requests outside are clamped.
COLUMNS = range(20, 501)
ROWS = range(10, 201)
#: How many sessions `muxlab serve` allows at once by default (a class; fewer when this machine
#: has not the memory: `default_max_sessions`), and the most it accepts.
CLASS_SIZE = 40
MAX_SESSIONS = range(1, 65)
#: The memory a session is allowed for in the default: one measured at 41 MiB PSS with a lesson
#: open and its live child (59 MiB unforked; tests/benchmarks/bench_serve.py), with room to spare.
SESSION_MIB = 150
#: How long the "class is full" page waits before it tries again.
RETRY_S = 10

#: How many apps may be starting (not yet drawn their first frame) at once; more would only
#: share the CPU and all draw late. A start that has not drawn in `START_WAIT_S` lets the next go.
STARTING = max(1, os.cpu_count() or 1)
START_WAIT_S = 20.0

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# A Host header: a DNS name or IPv4 address, or a bracketed IPv6 address; an optional port.
_HOST_HEADER = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name, as given to --host) is this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_max_sessions(meminfo: str | None = None) -> int:
    """`CLASS_SIZE`, or as many sessions as the memory available now allows (`SESSION_MIB`
    each, from `meminfo`, /proc/meminfo's text; `CLASS_SIZE` where there is none)."""
    if meminfo is None:
        try:
            with open("/proc/meminfo", encoding="ascii") as file:
                meminfo = file.read()
        except OSError:
            return CLASS_SIZE
    found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.MULTILINE)
    if found is None:
        return CLASS_SIZE
    return max(1, min(CLASS_SIZE, int(found.group(1)) // 1024 // SESSION_MIB))


FULL_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{retry}">
<title>muxlab: the class is full</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;line-height:1.5}}</style>
</head><body>
<h1>The class is full</h1>
<p>All {sessions} places of this muxlab server are taken.</p>
<p>This page tries again every {retry} seconds and opens muxlab as soon as someone closes a
tab: leave it open.</p>
<p>Teacher: <code>muxlab serve --max-sessions N</code> allows up to {most} at once.</p>
</body></html>
"""


def clamp(value: object, allowed: range, default: int) -> int:
    """`value` (a query string's text or a JSON number) as an int inside `allowed`, the nearest
    end if it is outside; `default` if it is not a number."""
    number = default
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = int(value)
    return max(allowed.start, min(allowed.stop - 1, number))


def _refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=f"muxlab: {message}\n", content_type="text/plain")


class MuxlabServer(Server):  # type: ignore[misc,unused-ignore]
    """See the module docstring. `banner` is printed once the server listens."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str,
        max_sessions: int = CLASS_SIZE,
        banner: Callable[[], None] = lambda: None,
        forkserver: ForkServer | None = None,
        app_args: list[str] | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="muxlab")
        self.token = token
        self.max_sessions = max_sessions
        self.sessions = 0  # apps running or starting
        self.forkserver = forkserver  # with `app_args`: fork apps, not `command`
        self.app_args = app_args or []
        self._starting = asyncio.Semaphore(STARTING)
        self.banner = banner
        # Cookies are per host, not per port: one per port, so two servers do not clash.
        self.cookie = f"muxlab-token-{port}"
        self.loopback_only = is_loopback(host)

    # --- the guard -------------------------------------------------------------------------

    def _token_ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))

    def _authenticated(self, request: web.Request) -> bool:
        return any(
            self._token_ok(candidate)
            for candidate in (
                request.match_info.get("token"),
                request.query.get("token"),
                request.cookies.get(self.cookie),
            )
        )

    def _host_ok(self, host: str) -> bool:
        if not _HOST_HEADER.fullmatch(host):
            return False
        if not self.loopback_only:
            return True  # a wider --host: any name this machine is reached by (the token guards)
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return is_loopback(name) or name.strip("[]") == self.host

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)
        host = request.headers.get("Host", "")
        if not self._host_ok(host):
            return _refuse(403, f"this server does not answer for the host {host!r}")
        if request.path == "/ws" or request.path.startswith("/ws/"):
            origin = request.headers.get("Origin")
            if origin is None or origin.lower() != f"http://{host}".lower():
                return _refuse(403, "websocket refused: it must come from this server's own page")
        if not self._authenticated(request):
            return _refuse(
                403,
                "this page needs the token: open the URL that `muxlab serve` printed "
                "(http://HOST:PORT/?token=...)",
            )
        return await handler(request)

    def _full(self, request: web.Request) -> web.Response | None:
        """None while a session is free; else 503: for a browser, a page that says the class is
        full and tries again by itself; for anything else, one line."""
        if self.sessions < self.max_sessions:
            return None
        if "text/html" in request.headers.get("Accept", ""):
            page = FULL_PAGE.format(
                sessions=self.max_sessions, retry=RETRY_S, most=MAX_SESSIONS.stop - 1
            )
            headers = {"Retry-After": str(RETRY_S), "Cache-Control": "no-store"}
            return web.Response(status=503, text=page, content_type="text/html", headers=headers)
        return _refuse(
            503,
            f"all {self.max_sessions} sessions are in use; close another muxlab tab and reload, "
            "or restart `muxlab serve` with a larger --max-sessions",
        )

    # --- textual-serve's server, with the guard --------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(
            app,
            loader=jinja2.FileSystemLoader(self.templates_path),
            autoescape=jinja2.select_autoescape(default=True),
        )
        app.add_routes(
            [
                web.get("/", self.index, name="index"),
                web.get("/ws", self.websocket, name="websocket"),
                web.get("/ws/{token}", self.websocket, name="websocket-token"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    async def on_startup(self, app: web.Application) -> None:
        self.banner()

    async def index(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's page, with URLs on the host the browser used and the token in the
        websocket's; sets the token cookie."""
        full = self._full(request)
        if full is not None:
            return full
        base = f"{request.host}"
        context = {
            "font_size": clamp(request.query.get("fontsize"), range(6, 73), 16),
            "app_websocket_url": f"ws://{base}/ws/{self.token}",
            "config": {"static": {"url": f"http://{base}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """textual-serve's websocket handler, within the session cap and the size bounds."""
        full = self._full(request)
        if full is not None:
            return full
        width = clamp(request.query.get("width"), COLUMNS, 80)
        height = clamp(request.query.get("height"), ROWS, 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        self.sessions += 1
        app_service: AppService | None = None

        async def close() -> None:
            await websocket.close()

        drawn = asyncio.Event()

        async def write_bytes(data: bytes) -> None:
            drawn.set()
            await websocket.send_bytes(data)

        try:
            await websocket.prepare(request)
            app_service = _AppService(
                self.command,
                write_bytes=write_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
                forkserver=self.forkserver,
                app_args=self.app_args,
            )
            async with self._starting:  # released at the app's first frame
                await app_service.start(width, height)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drawn.wait(), START_WAIT_S)
            await self._process_messages(websocket, app_service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # textual-serve logs these too; the server goes on
            log.exception(error)
        finally:
            try:
                if app_service is not None:
                    await app_service.stop()
            finally:
                self.sessions -= 1
        return websocket

    async def _process_messages(
        self, websocket: web.WebSocketResponse, app_service: AppService
    ) -> None:
        """textual-serve's message loop; sizes clamped, malformed messages ignored."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope: Any = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app_service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(
                    clamp(data.get("width"), COLUMNS, 80), clamp(data.get("height"), ROWS, 24)
                )
            elif kind == "ping" and isinstance(data, str):
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()


class _AppService(AppService):  # type: ignore[misc,unused-ignore]
    """textual-serve's app service, whose app is forked by `forkserver` when there is one (and
    started from the command when the fork server is gone)."""

    def __init__(
        self, *args: Any, forkserver: ForkServer | None, app_args: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._forkserver = forkserver
        self._app_args = app_args

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Any:
        if self._forkserver is None:
            return await super()._open_app_process(width, height)
        env = self._build_environment(width=width, height=height)
        try:
            process = await self._forkserver.spawn(self._app_args, env)
        except OSError as error:
            log.warning("the fork server is gone (%s): starting the app as a new process", error)
            self._forkserver = None
            return await super()._open_app_process(width, height)
        self._process = process  # type: ignore[assignment]  # what `run` uses of a Process
        self._stdin = process.stdin
        return process
