"""A small Chrome DevTools Protocol client for the browser tests: headless chromium driven over
--remote-debugging-pipe (the browser reads commands on fd 3 and writes replies on fd 4, each a
JSON message ended by NUL), so no websocket library is needed. Every wait has a deadline, and
the browser — with every process it started — is killed when the client closes."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

FLAGS = (  # without the networking ones, a closed network makes chromium misbehave
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class BrowserError(Exception):
    """The browser did not answer in time, answered with an error, or went away."""


def chromium() -> str | None:
    """The chromium executable, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _high(fd: int) -> int:
    """`fd` moved to a number of 10 or more (close-on-exec), so that putting the pipes on 3 and
    4 in the child cannot overwrite one with the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless chromium with a page attached (`session`); `events` holds every event it
    sent, in order."""

    def __init__(self, executable: str, timeout: float = 30.0, width: int = 1280):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="nnfix-chromium-")
        commands_in, self._commands = (_high(fd) for fd in os.pipe())  # browser reads fd 3
        self._replies, replies_out = (_high(fd) for fd in os.pipe())  # browser writes fd 4
        self.log = open(Path(self.profile) / "stderr.log", "wb")  # noqa: SIM115 - closed in close()

        def pipes() -> None:  # in the child, before exec: the pipes as fds 3 and 4, inherited
            os.dup2(commands_in, 3)
            os.dup2(replies_out, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}"],
            preexec_fn=pipes,
            close_fds=False,  # else 3 and 4 would be closed again; every other fd is CLOEXEC
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,  # its own process group: killed as one
        )
        os.close(commands_in)
        os.close(replies_out)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []
        self.session: str | None = None
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=None)
            attached = self.call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                session=None,
            )
            self.session = attached["sessionId"]
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
        except BaseException:
            self.close()
            raise

    # --- the protocol -------------------------------------------------------------------------

    def call(self, method: str, params: dict | None = None, *, session: str | None = "page"):
        """Send a command (to the page's session unless `session` is None: the browser) and
        return its result; events that arrive meanwhile go to `events`."""
        self._next += 1
        message: dict = {"id": self._next, "method": method, "params": params or {}}
        if session == "page":
            session = self.session
        if session is not None:
            message["sessionId"] = session
        self._write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float | None = None) -> dict:
        """The first event `method` (already received or still to come)."""
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            event = self._read(deadline)
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return event

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [self._commands], [], left)[1]:
                raise BrowserError("the browser does not take commands")
            view = view[os.write(self._commands, view) :]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BrowserError(f"no answer from the browser within {self.timeout:g} s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise BrowserError(f"the browser went away: {self.stderr()[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def stderr(self) -> str:
        with contextlib.suppress(OSError):
            return (Path(self.profile) / "stderr.log").read_text(errors="replace")
        return ""

    # --- what the tests do --------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load `url` with the console, the log, exceptions and requests recorded."""
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """What went wrong in the page: exceptions, console errors, error log entries."""
        out = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                thrown = details.get("exception", {}).get("description", "")
                out.append(f"exception: {details.get('text')} {thrown}".strip())
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                out.append(f"console.error: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        """The URLs the page asked for."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path) -> None:
        """The whole page (not only the window) as a PNG."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        """Ask the browser to close, then kill its process group whatever it did."""
        with contextlib.suppress(Exception):
            self._write(json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=3)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@contextlib.contextmanager
def browser(executable: str, timeout: float = 30.0) -> Iterator[Browser]:
    b = Browser(executable, timeout)
    try:
        yield b
    finally:
        b.close()
