"""Every malformed request gets its documented status and OpenAI-shaped error, a cancelled stream
frees its slot at once, and the server keeps serving the others."""
import base64
import http.client
import json
import struct
import time
import zlib

import openai
import pytest

from conftest import get_json, image_message, post_raw


def assert_error(result, status, code):
    got_status, headers, body = result
    assert got_status == status, body
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert headers["X-Request-Id"]


def completions(server, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post_raw(server.url + "/v1/chat/completions", data, headers)


def huge_png(width=100_000, height=100_000):
    """A valid PNG header announcing width × height pixels, with one tiny IDAT chunk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_malformed_json(server):
    assert_error(completions(server, b'{"messages": [}'), 400, "invalid_json")


@pytest.mark.parametrize("body,param", [
    ({"messages": "hello"}, "messages"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": "hi"}], "seed": True}, "seed"),
])
def test_wrong_field_types(server, body, param):
    result = completions(server, body)
    assert_error(result, 400, "invalid_type")
    assert result[2]["error"]["param"] == param


def test_invalid_values(server):
    assert_error(completions(server, {"messages": []}), 400, "invalid_value")
    assert_error(completions(server, {"messages": [{"role": "robot", "content": "hi"}]}), 400, "invalid_value")
    assert_error(completions(server, {"messages": [{"role": "user", "content": "hi"}], "temperature": 3}), 400, "invalid_value")
    assert_error(completions(server, {"messages": [{"role": "assistant", "content": "hi"}]}), 400, "invalid_value")
    assert_error(completions(server, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}), 400, "limit_exceeded")
    assert_error(completions(server, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}), 404, "model_not_found")


def test_bad_base64(server):
    assert_error(completions(server, {"messages": [image_message("hi", "data:image/png;base64,@@not base64@@")]}), 400, "invalid_base64")


def test_not_an_image(server):
    url = "data:image/png;base64," + base64.b64encode(b"GIF89a not a png").decode()
    assert_error(completions(server, {"messages": [image_message("hi", url)]}), 400, "invalid_image")


def test_file_urls_need_an_image_root(server):
    assert_error(completions(server, {"messages": [image_message("hi", "file:///etc/passwd")]}), 400, "invalid_image")


def test_gigapixel_png(server):
    url = "data:image/png;base64," + base64.b64encode(huge_png()).decode()
    assert_error(completions(server, {"messages": [image_message("hi", url)]}), 413, "image_too_large")


def test_too_many_images(server):
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}] * 17 + [{"type": "text", "text": "hi"}]}
    assert_error(completions(server, {"messages": [message]}), 413, "too_many_images")


def test_prompt_too_long(server):
    assert_error(completions(server, {"messages": [{"role": "user", "content": "word " * 2000}]}), 413, "context_length_exceeded")


def test_oversized_body(server):
    body = json.dumps({"messages": [{"role": "user", "content": "x" * 5_000_000}]}).encode()
    assert_error(completions(server, body), 413, "body_too_large")


def test_api_key(keyed_server):
    assert_error(completions(keyed_server, {"messages": [{"role": "user", "content": "hi"}]}), 401, "missing_api_key")
    assert_error(completions(keyed_server, {"messages": [{"role": "user", "content": "hi"}]}, Authorization="Bearer wrong"), 401, "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="wrong", max_retries=0).models.list()
    chat = openai.OpenAI(base_url=keyed_server.url + "/v1", api_key="sekrit-key", max_retries=0, timeout=120)
    answer = chat.chat.completions.create(model="MGM-Scenes", messages=[image_message("What digit is shown?")], temperature=0)
    assert answer.choices[0].message.content == "8"
    assert get_json(keyed_server.url + "/health")[0] == 200


def close_and_wait_until_idle(server, connection):
    """Closes the client's socket and waits (up to 10 s) until /health shows no active request;
    returns the seconds it took."""
    started = time.monotonic()
    connection.sock.close()
    connection.close()
    deadline = started + 10
    while time.monotonic() < deadline:
        health = get_json(server.url + "/health")[2]
        if health["active"] == 0:
            break
        time.sleep(0.05)
    assert health["active"] == 0, health
    return time.monotonic() - started


def test_cancelled_stream_frees_its_slot(server):
    """A client that closes a long stream after three chunks: its slot is free well before the
    400 tokens it asked for could have been generated, and the server answers the next request."""
    body = json.dumps({"messages": [image_message("Describe the image.")], "stream": True, "temperature": 1.0, "seed": 1,
                       "max_tokens": 400, "ignore_eos": True}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("X-Request-Id")
    events = 0
    while events < 4:
        line = response.fp.readline()
        assert line, "stream ended early"
        if line.startswith(b"data: "):
            events += 1
    freed = close_and_wait_until_idle(server, connection)
    # 400 tokens take ~10 s here; the slot must come back within a few decode steps.
    assert freed < 5, freed
    chat = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)
    answer = chat.chat.completions.create(model="MGM-Scenes", messages=[image_message("What digit is shown?")], temperature=0)
    assert answer.choices[0].message.content == "8"


def test_disconnected_non_streaming_client_frees_its_slot(server):
    """A non-streaming client that closes its connection while its answer is generated: the server
    notices the closed connection (not only when it would write the answer) and frees the slot well
    before the 400 tokens could have been generated."""
    body = json.dumps({"messages": [image_message("Describe the image.")], "temperature": 1.0, "seed": 2,
                       "max_tokens": 400, "ignore_eos": True}).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    deadline = time.monotonic() + 30
    while get_json(server.url + "/health")[2]["active"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert get_json(server.url + "/health")[2]["active"] == 1
    time.sleep(0.3)
    freed = close_and_wait_until_idle(server, connection)
    # 400 tokens take ~10 s here; before the closed connection was watched, the slot came back
    # only after the whole answer had been generated.
    assert freed < 5, freed
    # And the generation itself stopped: nothing is decoded once the slot is back. The batched
    # step that was running when the slot was released may still finish and count its row (the
    # tiny model's step takes well under a millisecond), so the count is taken a moment later.
    time.sleep(0.3)
    settled = get_json(server.url + "/health")[2]["scheduler"]["decoded_rows"]
    time.sleep(1.0)
    assert get_json(server.url + "/health")[2]["scheduler"]["decoded_rows"] == settled
    chat = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)
    answer = chat.chat.completions.create(model="MGM-Scenes", messages=[image_message("What digit is shown?")], temperature=0)
    assert answer.choices[0].message.content == "8"


def test_request_id_is_echoed(server):
    status, headers, _ = get_json(server.url + "/health")
    assert status == 200 and len(headers["X-Request-Id"]) >= 16
    result = completions(server, b"{", **{"X-Request-Id": "client-id-42"})
    assert result[1]["X-Request-Id"] == "client-id-42"


def test_busy_server_answers_429_then_503():
    """One slot, one queue place: a long stream holds the slot, the next request waits and gets
    503 after --queue-timeout, the one after that finds the queue full and gets 429 at once."""
    from conftest import Server
    import threading
    busy = Server("--max-batch", "1", "--max-queue", "1", "--queue-timeout", "1.5")
    try:
        long_body = json.dumps({"messages": [image_message("Describe the image.")], "stream": True, "temperature": 1.0,
                                "max_tokens": 400, "ignore_eos": True}).encode()
        connection = http.client.HTTPConnection("127.0.0.1", busy.port, timeout=60)
        connection.request("POST", "/v1/chat/completions", long_body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        response.fp.readline()
        waiting = {}
        waiter = threading.Thread(target=lambda: waiting.update(result=completions(busy, {"messages": [{"role": "user", "content": "hi"}]})))
        waiter.start()
        deadline = time.monotonic() + 10
        while get_json(busy.url + "/health")[2]["queued"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert_error(completions(busy, {"messages": [{"role": "user", "content": "hi"}]}), 429, "server_busy")
        waiter.join(timeout=30)
        assert_error(waiting["result"], 503, "server_overloaded")
        connection.sock.close()
        connection.close()
        deadline = time.monotonic() + 10
        while get_json(busy.url + "/health")[2]["active"] > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, _, answer = completions(busy, {"messages": [image_message("What digit is shown?")], "temperature": 0})
        assert status == 200 and answer["choices"][0]["message"]["content"] == "8"
    finally:
        busy.stop()
