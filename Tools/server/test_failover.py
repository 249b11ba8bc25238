"""Two `mgm serve` replicas behind nginx on loopback: one replica is killed under load and every
non-streaming request is still answered, through the other one."""
import concurrent.futures
import json
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import Server, image_message, post_raw

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if pathlib.Path("/usr/sbin/nginx").exists() else None)
TEMPLATE = pathlib.Path(__file__).with_name("nginx.conf.template")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def balanced(tmp_path):
    if not NGINX:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    replicas = [Server(), Server()]
    nginx = None
    try:
        port = free_port()
        upstreams = "\n        ".join(f"server 127.0.0.1:{replica.port} max_fails=1 fail_timeout=30s;" for replica in replicas)
        config = TEMPLATE.read_text().replace("@PREFIX@", str(tmp_path)).replace("@PORT@", str(port)).replace("@UPSTREAMS@", upstreams)
        (tmp_path / "nginx.conf").write_text(config)
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert nginx.poll() is None, nginx.stderr.read().decode()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", replicas
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        for replica in replicas:
            replica.stop()


def test_killing_a_replica_under_load_loses_no_request(balanced):
    url, (first, second) = balanced
    body = json.dumps({"model": "MGM-Scenes", "messages": [image_message("What digit is shown?")], "temperature": 0}).encode()
    killed = threading.Event()
    results = []
    lock = threading.Lock()

    def client(index):
        deadline = time.monotonic() + 25
        count = 0
        while time.monotonic() < deadline and count < 40:
            after_kill = killed.is_set()
            status, headers, answer = post_raw(url + "/v1/chat/completions", body, timeout=120)
            with lock:
                results.append((after_kill, status, headers.get("X-Upstream"), answer))
            count += 1

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(client, index) for index in range(6)]
        time.sleep(3)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        killed.set()
        for future in futures:
            future.result(timeout=300)

    assert len(results) >= 30
    for after_kill, status, upstream, answer in results:
        assert status == 200, (upstream, answer)
        assert answer["choices"][0]["message"]["content"] == "8"
    before = [upstream for after_kill, _, upstream, _ in results if not after_kill]
    after = [upstream for after_kill, _, upstream, _ in results if after_kill]
    second_address = f"127.0.0.1:{second.port}"
    assert any(upstream.startswith(f"127.0.0.1:{first.port}") for upstream in before), "the first replica never answered"
    assert len(after) >= 10
    # Requests in flight at the kill were retried on the second replica: its address ends every list.
    assert all(upstream.split(", ")[-1] == second_address for upstream in after), after
