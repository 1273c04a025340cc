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
  503 with a message that says so.
- a **bounded terminal**: the size asked for at connect time and in every resize message is
  clamped to `COLUMNS` x `ROWS`; malformed messages are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

log = logging.getLogger("muxlab.serve")

#: The terminal sizes an app may be given (columns, rows); requests outside are clamped.
COLUMNS = range(20, 501)
ROWS = range(10, 201)
#: How many sessions `muxlab serve` allows at once by default, and the most it accepts.
DEFAULT_MAX_SESSIONS = 8
MAX_SESSIONS = range(1, 65)

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
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        banner: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="muxlab")
        self.token = token
        self.max_sessions = max_sessions
        self.sessions = 0  # apps running or starting
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

    def _full(self) -> web.Response | None:
        if self.sessions < self.max_sessions:
            return None
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
        full = self._full()
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
        full = self._full()
        if full is not None:
            return full
        width = clamp(request.query.get("width"), COLUMNS, 80)
        height = clamp(request.query.get("height"), ROWS, 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        self.sessions += 1
        app_service: AppService | None = None

        async def close() -> None:
            await websocket.close()

        try:
            await websocket.prepare(request)
            app_service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await app_service.start(width, height)
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
