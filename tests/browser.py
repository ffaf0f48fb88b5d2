"""A real headless Chromium driven over the DevTools protocol (no Selenium, no driver
binary): open a page, collect its console errors, run JavaScript, take a screenshot.

Chromium comes from Debian (``apt-get install chromium``); :func:`chromium` is None when
it is missing. Also a script: ``python tests/browser.py PAGE.html OUT.png [MAX_HEIGHT]``
writes a screenshot of the page (the README's picture of the demo report).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Browser:
    """One headless Chromium process and one page (target) in it.

    Use as a context manager; ``errors`` lists the page's console errors and uncaught
    exceptions seen so far.
    """

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.errors: list[str] = []
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        import websocket

        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [
                chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its helper processes go with it on exit
        )
        url, deadline = None, time.time() + 60
        while url is None and time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            if m := re.search(r"DevTools listening on (ws://\S+)", line):
                url = m.group(1)
        if url is None:
            raise RuntimeError("chromium did not open its DevTools port within 60 s")
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self._call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.ws.close()
        finally:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._profile.cleanup()

    # -- protocol --------------------------------------------------------------------------
    def _call(self, method: str, session: str | None = None, **params) -> dict:
        msg_id = next(self._ids)
        msg = {"id": msg_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._event(reply)

    def call(self, method: str, **params) -> dict:
        """One DevTools command on the page."""
        return self._call(method, self.session, **params)

    def _event(self, ev: dict) -> None:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            self.errors.append(d.get("exception", {}).get("description") or d.get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(params["entry"].get("text"))
        elif method == "Page.loadEventFired":
            self._loaded = True

    # -- page ------------------------------------------------------------------------------
    def open(self, url: str, timeout: float = 60) -> None:
        """Navigate and wait for the load event (scripts have run)."""
        self._loaded = False
        self.call("Page.navigate", url=url)
        deadline = time.time() + timeout
        while not self._loaded:
            if time.time() > deadline:
                raise TimeoutError(f"{url}: no load event within {timeout} s")
            self._event(json.loads(self.ws.recv()))
        self.js("0")  # let the events queued behind the load event arrive

    def js(self, expression: str):
        """Value of a JavaScript expression in the page (JSON-serialisable)."""
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"].get("text"))
        return res["result"].get("value")

    def screenshot(self, max_height: int | None = None) -> bytes:
        """PNG of the whole page (beyond the window), or of its top ``max_height`` px."""
        width, height = self.js("[document.body.scrollWidth, document.body.scrollHeight]")
        height = height if max_height is None else min(height, max_height)
        res = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        return base64.b64decode(res["data"])


if __name__ == "__main__":
    page, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with Browser(width=1440) as b:
        b.open(page.as_uri())
        out.write_bytes(b.screenshot(int(sys.argv[3]) if len(sys.argv) > 3 else None))
        print(f"{out}: console errors {b.errors or 'none'}")
