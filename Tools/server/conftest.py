"""Fixtures of the `mgm serve` tests: servers on loopback started from the built `mgm` binary.

MGM names the binary (default: .build/debug/mgm, else .build/release/mgm). Every server is stopped
when its fixture ends, and every wait is bounded, so a broken server fails the run instead of hanging it.
"""
import base64
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCENE = REPO / "Examples" / "Images" / "scene.png"
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def mgm_binary():
    given = os.environ.get("MGM")
    if given:
        return given
    for folder in ("debug", "release"):
        candidate = REPO / ".build" / folder / "mgm"
        if candidate.exists():
            return str(candidate)
    pytest.skip("no mgm binary: build it (swift build --product mgm) or set MGM")


class Server:
    """One `mgm serve` process on a free loopback port."""

    def __init__(self, *arguments, startup_seconds=180):
        self.process = subprocess.Popen(
            [mgm_binary(), "serve", "--port", "0", *arguments], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + startup_seconds
        self.port = None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError("mgm serve did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def server():
    running = Server("--max-body-bytes", "4000000", "--max-batch", "8")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def keyed_server():
    running = Server("--api-key", "sekrit-key")
    yield running
    running.stop()


def scene_data_url():
    return "data:image/png;base64," + base64.b64encode(SCENE.read_bytes()).decode()


def image_message(question, url=None):
    return {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url or scene_data_url()}},
        {"type": "text", "text": question}]}


def post_raw(url, body, headers=None, timeout=120):
    """POST bytes; returns (status, headers, parsed JSON or text)."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
            return response.status, response.headers, json.loads(data)
    except urllib.error.HTTPError as error:
        data = error.read()
        return error.code, error.headers, json.loads(data)


def get_json(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.headers, json.loads(response.read())


def mgm_run(question, temperature, seed, max_tokens=64, chat_lines=None):
    """`mgm run --json` on the bundled model and the bundled scene."""
    arguments = [mgm_binary(), "run", "--json", "--quiet", "--image", str(SCENE), "--temperature", str(temperature),
                 "--seed", str(seed), "--max-tokens", str(max_tokens)]
    if chat_lines is not None:
        result = subprocess.run(arguments + ["--chat"], cwd=REPO, input="\n".join(chat_lines) + "\n\n",
                                capture_output=True, text=True, timeout=300, check=True)
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    result = subprocess.run(arguments + [question], cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout)
