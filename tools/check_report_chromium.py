#!/usr/bin/env python3
"""Open an HTML report in headless Chromium and check that it renders cleanly.

Usage::

    python tools/check_report_chromium.py out/incident.html [--screenshot shot.png]

Chromium is driven through the DevTools protocol on 127.0.0.1, with
background networking, component updates and sync turned off and a fresh
profile, in a viewport VIEWPORT_WIDTH pixels wide.  The check fails (exit
status 1) when the page logs a console error or throws, when an image does
not load, when the page requests anything other than ``file:`` or ``data:``
URLs, when a report section is missing, or when the page is wider than the
viewport (``wide_tables`` lists the sections of tables that stick out).  The
result is printed as JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]
SECTION_IDS = ["summary", "timeline", "funnel", "findings", "affected", "examples", "data"]
VIEWPORT_WIDTH = 1024  # CSS pixels: a laptop browser window, narrower than the report's 1040 px text column
VIEWPORT_HEIGHT = 768
STARTUP_TIMEOUT_S = 30
LOAD_TIMEOUT_S = 30
PAGE_FACTS_JS = """
JSON.stringify({
  title: document.title,
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth})),
  sections: Array.from(document.querySelectorAll('section[id]')).map(s => s.id),
  text_length: document.body ? document.body.innerText.length : 0,
  scripts: document.scripts.length,
  page_width: document.documentElement.clientWidth,
  scroll_width: document.documentElement.scrollWidth,
  wide_tables: Array.from(document.querySelectorAll('table'))
    .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
    .map(t => (t.closest('section[id]') || {id: ''}).id)
})
"""


class DevTools:
    """A minimal DevTools protocol client on one page's WebSocket."""

    def __init__(self, url: str) -> None:
        import websocket  # websocket-client

        self.socket = websocket.create_connection(url, timeout=LOAD_TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        """Send a command and return its result, keeping the events that arrive meanwhile."""
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> bool:
        """Read events until ``method`` arrives or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        if any(event.get("method") == method for event in self.events):
            return True
        while time.monotonic() < deadline:
            self.socket.settimeout(max(deadline - time.monotonic(), 0.1))
            message = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return True
        return False

    def close(self) -> None:
        self.socket.close()


def start_chromium(profile: str) -> tuple[subprocess.Popen, int]:
    """Start headless Chromium and return the process and its DevTools port."""
    # A session of its own lets stop_chromium end Chromium's helper processes too.  Chromium puts
    # org.chromium.Chromium.* folders in TMPDIR and leaves them, so TMPDIR is the profile, which the
    # caller removes.
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "TMPDIR": profile})
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if match:
            return process, int(match.group(1))
    stop_chromium(process)
    raise RuntimeError(f"{CHROMIUM} did not report a DevTools port within {STARTUP_TIMEOUT_S} s")


def stop_chromium(process: subprocess.Popen) -> None:
    """End the Chromium started by :func:`start_chromium` and its helper processes."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            time.sleep(0.2)  # helpers of the group exit just after the browser process
        except subprocess.TimeoutExpired:
            continue


def page_socket_url(port: int) -> str:
    """Return the WebSocket URL of the first page target."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.load(response)
    for target in targets:
        if target.get("type") == "page":
            return target["webSocketDebuggerUrl"]
    raise RuntimeError("Chromium has no page target to drive")


def problems_in(events: list[dict]) -> tuple[list[str], list[str]]:
    """Return console errors and non-local requests seen in DevTools events."""
    errors, requests = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", "error"))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                requests.append(url)
    return errors, requests


def check(html_path: Path, screenshot: Path | None = None) -> dict:
    """Render ``html_path`` and return what was found, with ``ok`` true when it passed."""
    # Chromium helpers may still write to the profile while it is removed.
    with tempfile.TemporaryDirectory(prefix="report-chromium-", ignore_cleanup_errors=True) as profile:
        process, port = start_chromium(profile)
        try:
            tools = DevTools(page_socket_url(port))
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.call(f"{domain}.enable")
            tools.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT_WIDTH, height=VIEWPORT_HEIGHT,
                       deviceScaleFactor=1, mobile=False)
            tools.call("Page.navigate", url=html_path.resolve().as_uri())
            loaded = tools.wait_for("Page.loadEventFired", LOAD_TIMEOUT_S)
            facts = json.loads(tools.call("Runtime.evaluate", expression=PAGE_FACTS_JS,
                                          returnByValue=True)["result"]["value"])
            if screenshot is not None:
                shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            errors, requests = problems_in(tools.events)
            tools.close()
        finally:
            stop_chromium(process)

    broken = [index for index, image in enumerate(facts["images"]) if not image["complete"] or image["width"] == 0]
    missing = [name for name in SECTION_IDS if name not in facts["sections"]]
    result = {
        "file": str(html_path), "loaded": loaded, "title": facts["title"], "images": len(facts["images"]),
        "broken_images": broken, "missing_sections": missing, "console_errors": errors,
        "external_requests": requests, "scripts": facts["scripts"], "text_length": facts["text_length"],
        "page_width": facts["page_width"], "scroll_width": facts["scroll_width"], "wide_tables": facts["wide_tables"],
    }
    fits = facts["scroll_width"] <= facts["page_width"] and not facts["wide_tables"]
    result["ok"] = (loaded and not broken and not missing and not errors and not requests and fits
                    and facts["images"] != [] and facts["text_length"] > 0)
    return result


def main(argv: list[str] | None = None) -> int:
    """Check one report and print the result as JSON; return 0 when it passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="report HTML file to open")
    parser.add_argument("--screenshot", type=Path, help="also write a full-page PNG screenshot here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found; install the Debian chromium package", file=sys.stderr)
        return 2
    result = check(args.html, args.screenshot)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
