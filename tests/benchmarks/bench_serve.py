"""Benchmark: a classroom on one machine -- N browser sessions of ``muxlab serve`` at once.

Run it with the project's interpreter (it needs Chromium)::

    .venv/bin/python tests/benchmarks/bench_serve.py [--sessions 40] [--steps 3] [--stagger 0]

One real ``muxlab serve`` (its real token, ``--max-sessions N``) and one real headless Chromium
with N tabs, driven over the DevTools protocol as `tests/test_browser.py` drives one. Each
``--sessions`` value is a phase of the same run, N = 1 first: the reference the others are
compared with. In each phase:

- **time to first frame**: the N tabs open the printed URL (all at once, or ``--stagger``
  seconds apart: a class that joins together, or one by one); for each, the time from its
  navigation to the moment its terminal first shows the lesson menu. A script in the page
  (`MONITOR`) notes, at every write xterm.js parses, the wall-clock time at which each awaited
  text first appears, so the figures do not depend on how often we look.
- **memory per session**: PSS and RSS (``/proc/PID/smaps_rollup``) of each process tree the
  server spawned for a tab (textual-serve's shell, the app, and the app's live child once a
  lesson is open), summed per session; on the menu, and again with a lesson open.
- **lesson open**: Enter on the menu's highlighted lesson, until the player shows ``step 0/``
  (loads the scenario and starts the live kernel's child).
- **step latency**: ``l`` in a tab until its terminal shows the next step; first in every tab
  at once (``burst``: the teacher says "step now"), then one tab at a time while the others
  stay open (``alone``).
- **CPU**: the CPU time the server and its apps used (``/proc/PID/stat``), in each stage and
  per second while every session sits idle on a lesson; Chromium's too (in a real class the
  browsers run on the learners' machines, not here).

Results go to ``results/serve.json`` beside this file (``serve-stagger.json`` with
``--stagger``); ratios against N = 1 are printed. Everything started here runs in its own
process group and is ended at the end.

Findings (2-core VM, 24 GiB, other jobs at a load average of 10-46). First run, every app a new
``python -I`` started by textual-serve, all 40 at once: the menu's first frame after a median
of 82 s (p95 89 s), 0.7 CPU-s per app (28 CPU-s for the class, beside Chromium's 48); opening a
lesson 31 s; 31 MiB PSS a session on the menu, 59 MiB with a lesson. Profiled: the apps' CPU
before their first frame is imports (Textual, the menu, then the player, pydantic's models) and
the menu's full read of every lesson, the same work 40 times. What changed: the apps are forked
from a fork server that did that work once (`tui.forkserver`; `gc.freeze` so the children do
not copy its pages), at most one app per core starts at a time (`tui.webserver.STARTING`), and
textual-serve's shell ``exec``s the app when it is not forked. After (two runs): first frame
median 13.9-21.0 s (p95 18.7-27.9 s), 0.24-0.27 CPU-s a join; a lesson opens in 9.2-17.6 s;
21 / 41 MiB PSS a session; joining one a second (``--stagger 1``), the menu in 0.48 s (p95
0.78 s). Left: a step costs 0.26-0.29 CPU-s in the app, so 40 tabs stepping in the same second
wait 4.5-6.3 s (median; 0.16-0.36 s when one steps at a time). cProfile of a step (Pilot, 160x45,
animation off): Textual's layout refreshes and repaints of the player are most of it, the
animation a quarter (``TEXTUAL_ANIMATIONS=none``: 0.20 instead of 0.26 CPU-s): the player's to
make cheaper.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.test_browser import (  # noqa: E402
    CHROMIUM,
    KEEP_TERMINAL,
    KEYS,
    Page,
    free_port,
    stop_group,
    wait_until,
)

RESULTS = Path(__file__).parent / "results" / "serve.json"
WIDTH, HEIGHT = 1280, 800
MENU = "About this lesson"  # the menu's first frame holds this pane title
TIMEOUT_S = 300.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Runs before textual.js (after KEEP_TERMINAL): notes in window.__muxlabSeen the wall-clock
# time (ms since the epoch, the clock time.time() reads) at which each text of
# window.__muxlabWant first shows on the terminal's screen.
MONITOR = """
window.__muxlabSeen = {};
window.__muxlabWant = [%s];
(function hook() {
  const term = window.__muxlabTerm;
  if (!term) { setTimeout(hook, 2); return; }
  const check = () => {
    if (!window.__muxlabWant.length) return;
    const buffer = term.buffer.active;
    let text = "";
    for (let i = 0; i < term.rows; i++) {
      const line = buffer.getLine(buffer.viewportY + i);
      if (line) text += line.translateToString(true) + "\\n";
    }
    const now = Date.now();
    window.__muxlabWant = window.__muxlabWant.filter((want) => {
      if (!text.includes(want)) return true;
      window.__muxlabSeen[want] = now;
      return false;
    });
  };
  term.onWriteParsed(check);
  check();
})();
"""


class Tab(Page):
    """A `Page` (the browser's `target` id) that can also send a command without waiting for
    its answer."""

    def __init__(self, ws_url: str, target: str) -> None:
        super().__init__(ws_url)
        self.target = target

    def post(self, method: str, **params: Any) -> None:
        self.ws.send(json.dumps({"id": next(self.ids), "method": method, "params": params}))

    def seen(self, want: str) -> float | None:
        """When `want` first showed (seconds since the epoch), or None (not yet)."""
        value = self.evaluate(f"window.__muxlabSeen[{json.dumps(want)}]")
        return None if value is None else float(value) / 1000

    def expect(self, want: str) -> None:
        self.evaluate(f"window.__muxlabWant.push({json.dumps(want)})")

    def key(self, name: str) -> None:
        key, code, vk, text = {**KEYS, "Escape": ("Escape", "Escape", 27, "")}[name]
        common: dict[str, Any] = {"key": key, "code": code, "windowsVirtualKeyCode": vk}
        kind = "keyDown" if text else "rawKeyDown"
        self.post("Input.dispatchKeyEvent", type=kind, **({"text": text} if text else {}), **common)
        self.post("Input.dispatchKeyEvent", type="keyUp", **common)


# --- processes -----------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of `pid`, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def processes() -> dict[int, tuple[int, int]]:
    """Every process: pid -> (parent pid, CPU ticks)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def descendants(root: int, table: dict[int, tuple[int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of `pid` in KiB (0, 0 if it is gone)."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def session_roots(server: int, table: dict[int, tuple[int, int]]) -> tuple[list[int], int | None]:
    """The first process of each session (the apps the fork server forked, and any the server
    started itself), and the fork server's pid (None without one)."""
    children = [pid for pid, (ppid, _) in table.items() if ppid == server]
    forkserver = next((pid for pid in children if "tui.forkserver" in _cmdline(pid)), None)
    forked = [pid for pid, (ppid, _) in table.items() if forkserver and ppid == forkserver]
    return [pid for pid in children if pid != forkserver] + forked, forkserver


def sessions_memory(server: int) -> list[dict[str, int]]:
    """PSS and RSS (KiB) and process count of each session: the process tree of each app
    (textual-serve's shell if any, the app, its live child)."""
    table = processes()
    roots, _ = session_roots(server, table)
    out = []
    for root in roots:
        tree = descendants(root, table)
        sizes = [memory_kib(p) for p in tree]
        out.append(
            {
                "pss_kib": sum(s[0] for s in sizes),
                "rss_kib": sum(s[1] for s in sizes),
                "processes": len(tree),
            }
        )
    return out


def shared_memory_mib(server: int) -> dict[str, float]:
    """PSS (MiB) of the server and of its fork server (what every session shares)."""
    _, forkserver = session_roots(server, processes())
    return {
        "server_pss": round(memory_kib(server)[0] / 1024, 1),
        "forkserver_pss": round(memory_kib(forkserver)[0] / 1024, 1) if forkserver else 0.0,
    }


def cpu_ticks(root: int) -> int:
    table = processes()
    return sum(table[pid][1] for pid in descendants(root, table) if pid in table)


# --- the run ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "p95": round(percentile(values, 95), 4),
        "max": round(max(values), 4),
    }


@dataclass
class Browser:
    process: subprocess.Popen[bytes]
    port: int
    profile: Path
    tabs: list[Tab] = field(default_factory=list)

    def open_tab(self) -> Tab:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=20) as answer:
            target = json.load(answer)
        tab = Tab(target["webSocketDebuggerUrl"], target["id"])
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
        tab.send("Page.addScriptToEvaluateOnNewDocument", source=MONITOR % json.dumps(MENU))
        self.tabs.append(tab)
        return tab

    def close_tabs(self) -> None:
        for tab in self.tabs:
            tab.close()
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/json/close/{tab.target}", timeout=20
            ):
                pass
        self.tabs = []


def start_browser(tmp: Path) -> Browser:
    assert CHROMIUM is not None, "this benchmark needs Chromium (apt-get install chromium)"
    profile = tmp / "chromium"
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            # every tab is someone's screen: none is throttled as a background tab
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "chromium.log").open("w"),
        start_new_session=True,
    )

    def devtools_port() -> int | None:
        try:
            return int((profile / "DevToolsActivePort").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    return Browser(process, wait_until("Chromium's DevTools port", devtools_port, 30), profile)


def start_server(tmp: Path, n: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["MUXLAB_DATA_DIR"] = str(tmp / "data")
    log = tmp / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--port", str(port), "--max-sessions", str(n)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    printed = re.compile(rf"http://127\.0\.0\.1:{port}/\?token=\S+")

    def url() -> str | None:
        if process.poll() is not None:
            raise RuntimeError(f"muxlab serve exited: {log.read_text()}")
        found = printed.search(log.read_text())
        return found.group(0) if found else None

    return process, wait_until("muxlab serve's URL", url, 30)


def wait_all(tabs: list[Tab], want: str, what: str) -> list[float]:
    """When `want` first showed in each tab (seconds since the epoch)."""
    times: list[float | None] = [None] * len(tabs)
    deadline = time.monotonic() + TIMEOUT_S
    while None in times:
        if time.monotonic() > deadline:
            missing = times.count(None)
            raise RuntimeError(f"{missing} of {len(tabs)} tabs never showed {what}")
        for i, tab in enumerate(tabs):
            if times[i] is None:
                times[i] = tab.seen(want)
        time.sleep(0.2)
    return [t for t in times if t is not None]


QUESTION = "Esc to skip"  # a step's predict question is open


def answer_questions(tabs: list[Tab]) -> None:
    """Skip the predict question a step may open (it would take the next `l`)."""
    asked = [tab for tab in tabs if QUESTION in tab.screen()]
    for tab in asked:
        tab.key("Escape")
    for tab in asked:
        tab.wait_for_screen("the question to close", lambda screen: QUESTION not in screen, 60)


def phase(browser: Browser, server: subprocess.Popen[bytes], url: str, args: Any, n: int) -> Any:
    """One phase of the run with `n` sessions; returns its figures."""
    print(f"-- {n} session{'s' if n > 1 else ''}", flush=True)
    tabs = [browser.open_tab() for _ in range(n)]
    result: dict[str, Any] = {"sessions": n}
    browser_ticks = cpu_ticks(browser.process.pid)
    ticks = cpu_ticks(server.pid)
    started = []
    for tab in tabs:
        started.append(time.time())
        tab.post("Page.navigate", url=url)
        if args.stagger:
            time.sleep(args.stagger)
    shown = wait_all(tabs, MENU, "the lesson menu")
    first_frame = [s - t for s, t in zip(shown, started, strict=True)]
    result["first_frame_s"] = summary(first_frame)
    result["all_joined_s"] = round(max(shown) - min(started), 3)
    result["cpu_join_s"] = round((cpu_ticks(server.pid) - ticks) / CLK_TCK, 2)
    time.sleep(args.settle)
    menu = sessions_memory(server.pid)
    result["menu_memory_mib"] = memory_summary(menu)
    print(f"   joined: first frame median {result['first_frame_s']['median']} s", flush=True)

    ticks = cpu_ticks(server.pid)
    started = []
    for tab in tabs:
        tab.evaluate("window.__muxlabTerm.focus()")
        tab.expect("step 0/")
        started.append(time.time())
        tab.key("Enter")
    opened = wait_all(tabs, "step 0/", "the player")
    result["lesson_open_s"] = summary([s - t for s, t in zip(opened, started, strict=True)])
    result["cpu_open_s"] = round((cpu_ticks(server.pid) - ticks) / CLK_TCK, 2)
    time.sleep(args.settle)
    result["lesson_memory_mib"] = memory_summary(sessions_memory(server.pid))
    result["shared_memory_mib"] = shared_memory_mib(server.pid)
    print(f"   lesson open: median {result['lesson_open_s']['median']} s", flush=True)

    ticks, clock = cpu_ticks(server.pid), time.monotonic()
    time.sleep(args.idle)
    result["idle_cpu_per_s"] = round(
        (cpu_ticks(server.pid) - ticks) / CLK_TCK / (time.monotonic() - clock), 3
    )

    burst, alone, step = [], [], 0
    ticks = cpu_ticks(server.pid)
    for _ in range(args.steps):
        step += 1
        pressed = []
        for tab in tabs:
            tab.expect(f"step {step}/")
        for tab in tabs:
            pressed.append(time.time())
            tab.key("l")
        seen = wait_all(tabs, f"step {step}/", f"step {step}")
        burst += [s - p for s, p in zip(seen, pressed, strict=True)]
        answer_questions(tabs)
    result["cpu_steps_s"] = round((cpu_ticks(server.pid) - ticks) / CLK_TCK, 2)
    step += 1
    for tab in tabs:
        tab.expect(f"step {step}/")
        pressed_at = time.time()
        tab.key("l")
        (seen_at,) = wait_all([tab], f"step {step}/", f"step {step}")
        alone.append(seen_at - pressed_at)
    answer_questions(tabs)
    result["step_burst_s"] = summary(burst)
    result["step_alone_s"] = summary(alone)
    print(f"   steps: burst median {result['step_burst_s']['median']} s", flush=True)
    result["cpu_browser_s"] = round((cpu_ticks(browser.process.pid) - browser_ticks) / CLK_TCK, 2)
    browser.close_tabs()
    wait_until(
        "the apps to end", lambda: not [p for p in sessions_memory(server.pid) if p], TIMEOUT_S
    )
    return result


def memory_summary(sessions: list[dict[str, int]]) -> dict[str, float]:
    pss = [s["pss_kib"] / 1024 for s in sessions]
    rss = [s["rss_kib"] / 1024 for s in sessions]
    return {
        "sessions": len(sessions),
        "pss_median": round(statistics.median(pss), 1),
        "pss_max": round(max(pss), 1),
        "pss_total": round(sum(pss), 1),
        "rss_median": round(statistics.median(rss), 1),
        "processes_per_session": statistics.median(s["processes"] for s in sessions),
    }


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(meminfo[1]) / 1024 / 1024, 1),
        "load_before": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[40], metavar="N")
    parser.add_argument("--steps", type=int, default=3, help="burst steps per phase")
    parser.add_argument("--stagger", type=float, default=0.0, help="seconds between joins")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before memory")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # `timeout`: clean up as on Ctrl+C
    counts = sorted({1, *args.sessions})
    result: dict[str, Any] = {"machine": machine(), "stagger_s": args.stagger, "phases": []}
    with tempfile.TemporaryDirectory(prefix="muxlab-bench-serve-") as folder:
        tmp = Path(folder)
        server, url = start_server(tmp, max(counts))
        browser = None
        try:
            browser = start_browser(tmp)
            for n in counts:
                result["phases"].append(phase(browser, server, url, args, n))
        finally:
            if browser is not None:
                for tab in browser.tabs:
                    tab.close()
                stop_group(browser.process)
            stop_group(server)
    result["machine"]["load_after"] = os.getloadavg()
    results = RESULTS.with_name("serve-stagger.json") if args.stagger else RESULTS
    results.parent.mkdir(exist_ok=True)
    results.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    report(result, results)
    return 0


def report(result: dict[str, Any], results: Path) -> None:
    one, *others = result["phases"]
    print(f"machine: {result['machine']['cpus']} CPUs, {result['machine']['memory_gib']} GiB")
    for p in [one, *others]:
        print(f"N = {p['sessions']}:")
        for name in ("first_frame_s", "lesson_open_s", "step_burst_s", "step_alone_s"):
            figures = p[name]
            ratio = figures["median"] / one[name]["median"] if one[name]["median"] else 0
            print(
                f"  {name[:-2]:12} median {figures['median'] * 1000:8.0f} ms  "
                f"p95 {figures['p95'] * 1000:8.0f} ms  ({ratio:.2f}x N=1)"
            )
        for name in ("menu_memory_mib", "lesson_memory_mib"):
            m = p[name]
            print(
                f"  {name[:-4]:12} PSS {m['pss_median']} MiB/session (max {m['pss_max']}), "
                f"RSS {m['rss_median']} MiB, total PSS {m['pss_total']} MiB"
            )
        print(
            f"  shared: server PSS {p['shared_memory_mib']['server_pss']} MiB, fork server "
            f"PSS {p['shared_memory_mib']['forkserver_pss']} MiB"
        )
        print(
            f"  CPU: join {p['cpu_join_s']} s, open {p['cpu_open_s']} s, steps "
            f"{p['cpu_steps_s']} s; idle {p['idle_cpu_per_s']} CPU-s/s; "
            f"Chromium {p['cpu_browser_s']} s in all"
        )
    print(f"figures in {results}")


if __name__ == "__main__":
    sys.exit(main())
