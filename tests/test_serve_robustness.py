"""A real `ganforge serve` (the CLI in a subprocess, on loopback) under hostile and heavy clients, spoken
to with real sockets: half-sent requests are dropped after --read-timeout and the slots come back;
oversized heads and bodies get 431 / 413 (malformed ones 400) with a one-line JSON error; eight
concurrent keep-alive clients get only right answers, and the server's memory and open files stay flat.

The runs served are the tiny committed ones in tests/fixtures/legacy-0.1.0 (no training needed)."""

import base64
import http.client
import json
import os
import select
import socket
import threading
import time
from pathlib import Path

import pytest
from test_serve import call, start_server, stop_server

LEGACY = Path(__file__).parent / "fixtures" / "legacy-0.1.0"
RUNS = [f"img={LEGACY / 'image'}", f"people={LEGACY / 'table'}"]
PNG = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- helpers
class Server:
    def __init__(self, args: list[str], log: Path) -> None:
        self.proc, self.url = start_server(args, log)
        self.port, self.log = int(self.url.rsplit(":", 1)[1]), log

    def rss_kb(self) -> int:
        """The server process's resident memory (VmRSS), in kB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def healthy(self) -> bool:
        status, _, body = call(f"{self.url}/api/health")
        return status == 200 and json.loads(body)["status"] == "ok"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the oversize and load tests (default limits but for a high connection cap)."""
    srv = Server([*RUNS, "--max-connections", "64"], tmp_path_factory.mktemp("robust") / "server.log")
    try:
        yield srv
    finally:
        stop_server(srv.proc)


def read_reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection or the reply's body is complete; a
    reset after the reply (the server closing with our unread bytes) ends the reply too."""
    data = b""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            lengths = [
                ln.split(b":", 1)[1]
                for ln in head.split(b"\r\n")
                if ln.lower().startswith(b"content-length:")
            ]
            if lengths and len(rest) >= int(lengths[0]):
                return data
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def parse(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of a raw HTTP/1.1 reply."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def raw(port: int, data: bytes, piece: int | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` on a fresh connection (whole, or ``piece`` bytes at a time until the server has
    answered) and return the parsed reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            if piece is None:
                s.sendall(data)
            else:
                for i in range(0, len(data), piece):
                    if select.select([s], [], [], 0)[0]:  # answered already: stop sending
                        break
                    s.sendall(data[i : i + piece])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading all of it; the reply is still there
        reply = read_reply(s)
    assert reply, "connection closed without a reply"
    return parse(reply)


def lowered(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers}


def json_error(status: int, headers: dict[str, str], body: bytes) -> str:
    """The one-line ``error`` of a JSON error reply (asserting it is one)."""
    assert headers.get("content-type") == "application/json", (status, headers, body[:200])
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error and "\n" not in error, error
    return error


# ---------------------------------------------------------------- 1. slow partial requests
def test_slow_partial_requests_are_dropped_and_the_slots_come_back(tmp_path):
    """Eight sockets each holding half a request fill every slot of --max-connections 8 (a real request
    gets 503). After --read-timeout the server drops them all -- half a head, a head trickling in a
    byte at a time, or a head whose announced body never comes -- and a real request gets 200 again."""
    read_timeout = 2.0
    srv = Server([*RUNS, "--max-connections", "8", "--read-timeout", str(read_timeout)], tmp_path / "log")
    slow: list[socket.socket] = []
    try:
        opened = time.monotonic()
        for _ in range(2):  # a whole head, then half of the 40-byte body it announces
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"POST /api/models/people/rows HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"n\": 3, ")  # fmt: skip
            slow.append(s)
        # One round trip, so the server has taken those two requests in (with 3 of its 8 connections open;
        # at 8 uvicorn would refuse them with a 503 instead) before six more sockets fill the rest.
        assert srv.healthy()
        for _ in range(6):  # half a head: no blank line ending it
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
            slow.append(s)

        statuses: list[int] = []
        deadline = opened + read_timeout + 4
        while time.monotonic() < deadline:
            for s in slow[-2:]:  # these keep sending: trickling in does not earn more time
                try:
                    s.send(b"a")
                except OSError:
                    pass  # dropped already
            statuses.append(call(f"{srv.url}/api/health")[0])
            if statuses[-1] == 200 and 503 in statuses:
                break
            time.sleep(0.1)
        back = time.monotonic() - opened
        print(f"\nslow clients: healthy again after {back:.2f} s (read timeout {read_timeout} s); {statuses}")
        assert 503 in statuses, statuses  # the slow sockets did hold every slot
        assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
        assert back < read_timeout + 3, back

        for i, s in enumerate(slow):  # each was closed by the server, with no reply
            s.settimeout(max(0.5, deadline - time.monotonic()))
            try:
                got = s.recv(1024)
            except ConnectionResetError:
                got = b""
            except TimeoutError:
                got = b"<still open>"
            assert got == b"", (i, got[:80])
        assert all(srv.healthy() for _ in range(3))
        assert "Traceback" not in srv.log.read_text()
    finally:
        for s in slow:
            s.close()
        stop_server(srv.proc)


# ---------------------------------------------------------------- 2. oversized and malformed requests
def test_oversized_heads_and_bodies_get_a_json_4xx_and_the_server_stays_healthy(server):
    big_head = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 100_000

    # A 100 KB header sent whole, and one still trickling in (4 KB at a time): both refused with 431.
    for data, piece in ((big_head + b"\r\n\r\n", None), (big_head, 4096)):
        status, headers, body = raw(server.port, data, piece)
        assert status == 431, (piece, status, body[:200])
        assert "headers too large" in json_error(status, headers, body)
        assert server.healthy()

    # A body above the server's limit: 413 before it is read; one of unknown length: 411.
    limit = json.loads(call(f"{server.url}/api/health")[2])["limits"]["max_body_bytes"]
    body = json.dumps({"n": 1, "pad": "a" * (limit + 1000)}).encode()
    status, message, reply = call(f"{server.url}/api/models/img/images", body)
    assert status == 413 and "too large" in json_error(status, lowered(message.items()), reply)
    status, headers, reply = raw(server.port, b"POST /api/models/img/images HTTP/1.1\r\nHost: localhost\r\n"
                                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"2\r\n{}\r\n0\r\n\r\n")  # fmt: skip
    assert status == 411 and "Content-Length" in json_error(status, headers, reply)
    assert server.healthy()

    # Bytes that are not HTTP at all: 400 with the same JSON error (not uvicorn's plain text).
    status, headers, reply = raw(server.port, b"\x00\x01 not http\r\n\r\n")
    assert status == 400 and "malformed HTTP request" in json_error(status, headers, reply)
    assert server.healthy()


# ---------------------------------------------------------------- 3. concurrent load
def _images(n: int):
    def check(body: bytes) -> bool:
        images = json.loads(body)["images"]
        return len(images) == n and all(base64.b64decode(b).startswith(PNG) for b in images)

    return check


def _rows(n: int):
    def check(body: bytes) -> bool:
        lines = body.decode().splitlines()
        return lines[0] == "age,income,hours" and len(lines) == n + 1

    return check


# (method, path, JSON body or raw bytes, expected status, check of a 200's body or a needle in the error)
MIX = [
    ("GET", "/api/health", None, 200, lambda b: json.loads(b)["status"] == "ok"),
    ("GET", "/api/models", None, 200, lambda b: [m["name"] for m in json.loads(b)] == ["img", "people"]),
    ("POST", "/api/models/img/images", {"n": 4, "format": "json"}, 200, _images(4)),
    ("POST", "/api/models/img/images", {"n": 1000}, 422, "less than or equal to 256"),
    ("GET", "/api/models/people", None, 200, lambda b: json.loads(b)["kind"] == "table"),
    ("POST", "/api/models/people/rows", {"n": 25}, 200, _rows(25)),
    ("POST", "/api/models/img/images", b"{bad", 422, "not valid JSON"),
    ("POST", "/api/models/img/images", {"n": 2, "class": 3}, 200, lambda b: b.startswith(PNG)),
    ("POST", "/api/models/nope/images", {}, 404, "no model named 'nope'"),
    ("POST", "/api/models/img/interpolate", {"frames": 3, "format": "json"}, 200, _images(3)),
    ("POST", "/api/models/img/images", {"class": 12}, 400, "class must be in 0..9"),
    ("POST", "/api/models/people/images", {}, 400, "use /rows"),
    ("POST", "/api/models/people/rows", {"conditions": {"town": "x"}}, 400, "unknown column 'town'"),
    ("GET", "/api/models/nope", None, 404, "no model named 'nope'"),
    ("POST", "/api/models/img/images", b"{" + b" " * 70_000 + b"}", 413, "too large"),
]


def hammer(port: int, clients: int, seconds: float) -> tuple[int, list[str], list[int]]:
    """``clients`` threads, each on its own keep-alive connection, send MIX round and round (each
    starting at a different entry) for ``seconds``. Returns (requests answered, problems, per client)."""
    problems: list[str] = []
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        k = c
        try:
            while time.monotonic() < stop:
                method, path, body, expected, check = MIX[k % len(MIX)]
                payload = json.dumps(body).encode() if isinstance(body, dict) else body
                try:
                    conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
                    reply = conn.getresponse()
                    status, data = reply.status, reply.read()
                except (OSError, http.client.HTTPException) as e:  # dropped, reset, timed out
                    problems.append(f"{method} {path}: {e.__class__.__name__}: {e}")
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    k += 1
                    continue
                if status != expected:
                    problems.append(f"{method} {path}: {status} (expected {expected}): {data[:120]!r}")
                elif status == 200 and not check(data):
                    problems.append(f"{method} {path}: 200 with a wrong body: {data[:120]!r}")
                elif status != 200:
                    try:
                        error = json_error(status, lowered(reply.getheaders()), data)
                        assert check in error, error
                    except (AssertionError, ValueError, KeyError) as e:
                        problems.append(f"{method} {path}: {status}: bad error reply: {e}")
                done[c] += 1
                k += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    assert not any(t.is_alive() for t in threads), "a client is stuck: the server stopped answering"
    return sum(done), problems, done


def test_eight_concurrent_clients_get_only_right_answers_and_memory_stays_flat(server):
    hammer(server.port, 8, 1.5)  # warm-up: every endpoint and error path, torch and allocator pools settle
    files_before = server.open_files()
    rss_before = server.rss_kb()
    served, problems, per_client = hammer(server.port, 8, 4.0)
    rss_after = server.rss_kb()
    print(f"\nload: {served} requests in 4 s by 8 clients {per_client}; "
          f"RSS {rss_before / 1024:.1f} -> {rss_after / 1024:.1f} MB")  # fmt: skip

    assert problems == [], problems[:10]
    # Not a benchmark: this mix runs at ~500 requests/s here (2 shared cores), so 400 in 4 s leaves a
    # 5x margin; a wedged server, or one serialised to a crawl, answers a handful. Every client gets through.
    assert served >= 400 and min(per_client) >= 20, per_client
    # Warmed up, RSS moves by ~2 MB over the 1300-2300 requests this mix gets through here. 12 MB is 6x
    # that noise, and a leak of 10 KB a request (one request body, response or a few tensors kept each
    # time) overshoots it: injected into the server's middleware it grew RSS by 22 MB in this test.
    assert rss_after - rss_before < 12 * 1024, (rss_before, rss_after)
    # Every connection the clients opened is closed on the server's side too (no leaked sockets).
    deadline = time.monotonic() + 10
    while server.open_files() > files_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.open_files() <= files_before, (files_before, server.open_files())
    assert server.healthy() and "Traceback" not in server.log.read_text()
