#!/usr/bin/env python3
"""The black-box hostile run (issue 10): the real `optischema` binary against
at least 10,000 hostile HTTP and WebSocket requests, then checks that it is
alive, that /health answers, that a normal API call returns correct data, and
that its RSS is back within 10 % of where it began (measured after a warm-up).

    tests/hostile/hostile.py --engine build/optischema [--requests 10000]

The engine watches a target that is down (a loopback port nobody listens on):
the HTTP/WebSocket surface under test is the same whatever the target's state,
the run then needs no PostgreSQL (it works in `make test` even when the
harness cannot start), and nothing the attacks get through can load a
database. It gets a token through OPTISCHEMA_API_TOKEN (which every version
reads) and a small static site with an inline script, so the static files and
their CSP are attacked too.

Python 3 standard library only. Exit status 0 when every check holds.
"""

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "hostile-run-token-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
TARGET = "hostile"


# -- the engine ------------------------------------------------------------------


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Engine:
    def __init__(self, binary, tmp, extra):
        self.tmp = tmp
        site = os.path.join(tmp, "site")
        os.makedirs(site, exist_ok=True)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write('<!DOCTYPE html><html><head><script src="/app.js" async></script>'
                    "<script>self.__next_f=self.__next_f||[];</script></head>"
                    "<body>hostile</body></html>")
        with open(os.path.join(site, "app.js"), "w") as f:
            f.write("console.log(1)")
        dsn = (f"host=127.0.0.1 port={closed_port()} user=postgres dbname={TARGET} "
               "connect_timeout=1")
        args = [binary, "serve", "--target", f"{TARGET}={dsn}", "--listen", "127.0.0.1:0",
                "--data-dir", os.path.join(tmp, "data"), "--poll-interval", "2s",
                "--analysis-interval", "0", "--static-dir", site] + extra
        env = dict(os.environ, OPTISCHEMA_API_TOKEN=TOKEN)
        self.log_path = os.path.join(tmp, "engine.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.url = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
                text = line.decode(errors="replace")
                if "optischema: serving " in text and not ready.is_set():
                    self.url = text.split("optischema: serving ", 1)[1].strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30) or not self.url:
            self.stop()
            raise SystemExit(f"hostile: the engine did not start; log: {self.tail()}")
        rest = self.url.split("://", 1)[1]
        self.host, port = rest.rsplit(":", 1)
        self.port = int(port)
        self.host_header = f"{self.host}:{self.port}"

    def alive(self):
        return self.proc.poll() is None

    def exit_description(self):
        rc = self.proc.poll()
        if rc is None:
            return "running"
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}"
        return f"exited with {rc}"

    def rss_kb(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- raw clients --------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.sent = 0
        self.by_category = {}
        self.statuses = {}

    def count(self, category, status, n=1):
        self.sent += n
        c = self.by_category.setdefault(category, {})
        c[status] = c.get(status, 0) + n
        self.statuses[status] = self.statuses.get(status, 0) + n


STATS = Stats()
ENGINE = None


def status_of(data):
    if data.startswith(b"HTTP/1.") and len(data) >= 12:
        return data[9:12].decode(errors="replace")
    return "closed" if not data else "garbage"


async def close(writer):
    if writer is not None:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 2)
        except Exception:
            pass


async def exchange(payload, category, read=True, timeout=8.0, pieces=None, delay=0.0,
                   close_write=False):
    """Sends `payload` (or `pieces` with `delay` between them) on a fresh
    connection, reads until the server closes or `timeout`, counts the answer's
    status under `category`."""
    status = "error"
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", ENGINE.port), timeout)
        for piece in (pieces if pieces is not None else [payload]):
            writer.write(piece)
            await writer.drain()
            if delay:
                await asyncio.sleep(delay)
        if close_write and writer.can_write_eof():
            writer.write_eof()
        if read:
            data = b""
            deadline = time.monotonic() + timeout
            while len(data) < 65536:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), left)
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and data.startswith(b"HTTP/1.1 101"):
                    break
            status = status_of(data)
        else:
            status = "sent"
    except (ConnectionError, OSError, asyncio.TimeoutError):
        status = "reset"
    finally:
        await close(writer)
    STATS.count(category, status)
    return status


def request(method, path, body=b"", headers=None, host=None, content_type="application/json",
            token=True, extra=b"", length=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or ENGINE.host_header}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    if token:
        lines.append(f"Authorization: Bearer {TOKEN}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    elif body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n").encode() + extra + b"\r\n" + body


def ws_upgrade(origin=None, host=None):
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /ws HTTP/1.1", f"Host: {host or ENGINE.host_header}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ws_frame(payload, opcode=1, fin=True, mask=True, length=None):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([m | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def ws_read_frame(reader, timeout):
    head = await asyncio.wait_for(reader.readexactly(2), timeout)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), timeout), "big")
    elif n == 127:
        n = int.from_bytes(await asyncio.wait_for(reader.readexactly(8), timeout), "big")
    data = await asyncio.wait_for(reader.readexactly(n), timeout)
    return head[0] & 0x0F, data


async def ws_session(frames, category, auth=True, read_answers=False, timeout=5.0):
    """Upgrades, authenticates, sends `frames` (raw bytes each), counts each
    frame as a request."""
    writer = None
    got = []
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", ENGINE.port), timeout)
        writer.write(ws_upgrade())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        STATS.count(category, status_of(head))
        if not head.startswith(b"HTTP/1.1 101"):
            return got
        if auth:
            writer.write(ws_frame(json.dumps({"type": "auth", "token": TOKEN}).encode()))
        for f in frames:
            writer.write(f)
            STATS.count(category, "ws-frame")
        await writer.drain()
        if read_answers:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                op, data = await ws_read_frame(reader, deadline - time.monotonic())
                if op == 8:
                    break
                if op == 1:
                    got.append(data.decode(errors="replace"))
                    if b'"subscribed"' in data:
                        break
        else:
            try:
                await asyncio.wait_for(reader.read(65536), 1.0)
            except asyncio.TimeoutError:
                pass
    except (ConnectionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError):
        pass
    finally:
        await close(writer)
    return got


# -- the attacks ----------------------------------------------------------------------


async def bounded(coros, limit=150):
    sem = asyncio.Semaphore(limit)

    async def run(c):
        async with sem:
            return await c

    return await asyncio.gather(*(run(c) for c in coros))


def deep_nesting(scale):
    cat = "deep nesting"
    bodies = [b"[" * 300_000, b'{"a":' * 100_000, b"[" * 299_999 + b"]" * 299_999,
              b'{"sql":' + b"[" * 200_000]
    paths = ["/api/analysis/query", "/api/suggestions/dismiss", "/api/suggestions/apply",
             "/api/suggestions/test", "/api/analysis/run", "/api/collect"]
    out = []
    for i in range(max(1, 60 * scale // 100)):
        out.append(exchange(request("POST", paths[i % len(paths)], bodies[i % len(bodies)]), cat))
    # The same without the token and as text/plain (a cross-site no-cors fetch).
    for i in range(max(1, 20 * scale // 100)):
        out.append(exchange(request("POST", "/api/analysis/query", bodies[0], token=False,
                                    content_type="text/plain"), cat))
    frames = [ws_frame(b"[" * 60_000), ws_frame(b'{"type":' * 8_000)]
    for _ in range(max(1, 20 * scale // 100)):
        out.append(ws_session(frames, cat))
    return out


def huge_and_truncated(scale):
    out = []
    for i in range(max(1, 150 * scale // 100)):
        kind = i % 5
        if kind == 0:  # announced far beyond the limit
            out.append(exchange(request("POST", "/api/analysis/query", length=50_000_000) +
                                b"x" * 65536, "huge body"))
        elif kind == 1:  # really sent
            out.append(exchange(request("POST", "/api/collect", b"x" * (2 << 20)), "huge body"))
        elif kind == 2:  # truncated: promised 10,000 bytes, sent 100, gone
            head = request("POST", "/api/analysis/query", length=10_000)
            out.append(exchange(head + b'{"sql":"' + b"a" * 92, "truncated body", read=False))
        elif kind == 3:  # truncated then half-closed: the server must not wait 30 s
            head = request("POST", "/api/analysis/query", length=10_000)
            out.append(exchange(head + b'{"sql"', "truncated body", close_write=True, timeout=3))
        else:  # a body after a GET and a negative length
            out.append(exchange(request("GET", "/api/status", length=-5), "truncated body"))
    return out


def bad_chunking(scale):
    cat = "bad chunking"

    def chunked(body_bytes, extra_headers=b""):
        head = (f"POST /api/analysis/query HTTP/1.1\r\nHost: {ENGINE.host_header}\r\n"
                f"Content-Type: application/json\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n").encode()
        return head + extra_headers + b"\r\n" + body_bytes

    cases = [
        chunked(b"zz\r\nabc\r\n0\r\n\r\n"),
        chunked(b"-5\r\nabc\r\n0\r\n\r\n"),
        chunked(b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
        chunked(b"5\r\nabcdefghij\r\n0\r\n\r\n"),
        chunked(b"5\r\nab"),  # truncated chunk
        chunked(b"3\r\nabc\r\n"),  # no last chunk
        chunked(b"1;" + b"e" * 1_000_000 + b"\r\na\r\n0\r\n\r\n"),  # chunk-extension flood
        chunked(b"3\r\nabc\r\n0\r\n" + b"X-Trailer: y\r\n" * 5000 + b"\r\n"),  # trailer flood
        chunked(b"3\r\nabc\r\n0\r\n\r\n", b"Content-Length: 3\r\n"),  # smuggling
        chunked(b"3\r\nabc\r\n0\r\n\r\n", b"Transfer-Encoding: gzip\r\n"),
        chunked(b"" + b"1\r\n[\r\n" * 100_000 + b"0\r\n\r\n"),  # nesting, one byte a chunk
    ]
    return [exchange(cases[i % len(cases)], cat) for i in range(max(1, 330 * scale // 100))]


def invalid_utf8(scale):
    cat = "invalid UTF-8"
    bodies = [b'{"sql":"SELECT \xff\xfe"}', b'{"sql":"SELECT \xc0\xaf"}',
              b'{"sql":"SELECT \xed\xa0\x80"}', b'{"sql":"SELECT \\ud800"}',
              b'{"id":"\xf8\x88\x80\x80\x80"}', b'\xef\xbb\xbf{"sql":"SELECT 1"}']
    out = []
    n = max(1, 400 * scale // 100)
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append(exchange(request("POST", "/api/analysis/query", bodies[i % len(bodies)]), cat))
        elif k == 1:
            out.append(exchange(request("GET", "/api/metrics/hot?target=%ff%fe&limit=%c0%af"), cat))
        elif k == 2:
            out.append(exchange(b"GET /\xff\xfe/%ff HTTP/1.1\r\nHost: \xff\xfe\r\n"
                                b"X-Bad: \xc0\xaf\r\nConnection: close\r\n\r\n", cat))
        else:
            out.append(ws_session([ws_frame(b'{"type":"subscribe","targets":["\xff\xfe"]}'),
                                   ws_frame(b"\xff\xfe\xfd")], cat))
    return out


def header_floods(scale):
    cat = "header flood"
    out = []
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
    for i in range(max(1, 300 * scale // 100)):
        k = i % 4
        if k == 0:
            out.append(exchange(request("GET", "/health", extra=many), cat))
        elif k == 1:
            out.append(exchange(request("GET", "/health", extra=b"Cookie: " + b"c" * 1_000_000 +
                                        b"\r\n"), cat))
        elif k == 2:
            out.append(exchange(request("GET", "/api/status", extra=b"X-Fold: a\r\n" +
                                        b" continued\r\n" * 2000), cat))
        else:
            out.append(exchange(b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", cat))
    return out


def wrong_origin_host_token(scale):
    out = []
    for i in range(max(1, 2000 * scale // 100)):
        k = i % 8
        if k == 0:
            out.append(exchange(request("POST", "/api/collect", b"{}", token=False), "no token"))
        elif k == 1:
            out.append(exchange(request("POST", "/api/analysis/run", b"{}",
                                        headers={"Authorization": "Bearer wrong"}, token=False),
                                "no token"))
        elif k == 2:
            out.append(exchange(request("POST", "/api/sandbox/prepare", b"{}",
                                        headers={"Origin": "http://evil.example"}), "wrong Origin"))
        elif k == 3:
            out.append(exchange(ws_upgrade(origin="http://evil.example"), "wrong Origin"))
        elif k == 4:
            out.append(exchange(request("GET", "/api/status", host="rebind.evil.example"),
                                "wrong Host"))
        elif k == 5:
            out.append(exchange(ws_upgrade(host="rebind.evil.example:80"), "wrong Host"))
        elif k == 6:
            out.append(exchange(request("POST", "/api/collect", b"{}", content_type="text/plain"),
                                "not JSON"))
        else:
            out.append(exchange(request("POST", "/api/analysis/query",
                                        b'{"sql":"SELECT 1"}', content_type=None), "not JSON"))
    return out


def garbage(scale):
    cat = "garbage"
    out = []
    rnd = random.Random(10)
    for i in range(max(1, 700 * scale // 100)):
        k = i % 5
        if k == 0:
            out.append(exchange(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 4096))), cat))
        elif k == 1:
            out.append(exchange(b"GET /health HTTP/1.1\r\n" + b"\r\n" * 1000, cat))
        elif k == 2:
            out.append(exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200),
                                cat))  # a TLS ClientHello
        elif k == 3:
            out.append(exchange(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(64), cat))
        else:
            out.append(exchange(b"GET /../../../etc/passwd HTTP/1.1\r\nHost: " +
                                ENGINE.host_header.encode() + b"\r\nConnection: close\r\n\r\n",
                                cat))
    return out


def garbage_ws(scale):
    cat = "garbage WS frames"
    out = []
    for i in range(max(1, 150 * scale // 100)):
        k = i % 10
        if k == 0:
            frames = [os.urandom(512)]
        elif k == 1:
            frames = [ws_frame(b'{"type":"ping"}', mask=False)]  # clients must mask
        elif k == 2:
            frames = [ws_frame(b"x", opcode=3)]  # reserved opcode
        elif k == 3:
            frames = [ws_frame(b"p" * 200, opcode=9)]  # control frame > 125
        elif k == 4:
            frames = [ws_frame(b"x", opcode=0)]  # continuation without a start
        elif k == 5:
            frames = [ws_frame(b"", length=1 << 62)[:10] + os.urandom(4096)]  # 2^62 bytes
        elif k == 6:
            frames = [ws_frame(b"{" * 70_000)]  # over the 64 KiB frame limit
        elif k == 7:
            frames = [ws_frame(b'{"type":"ping"}') for _ in range(40)]
        elif k == 8:
            frames = [ws_frame(b'{"type":"sub', fin=False), ws_frame(b"x", opcode=9, fin=False)]
        else:
            frames = [ws_frame(json.dumps({"type": "subscribe",
                                           "targets": ["t%d" % j for j in range(5000)]}).encode())]
        out.append(ws_session(frames, cat))
    return out


def valid_mix(scale):
    cat = "valid"
    paths = ["/health", "/api/status", "/api/targets", "/api/metrics/hot?limit=5",
             "/api/openapi.json", "/", "/app.js", "/api/suggestions/latest", "/api/audit?limit=5"]
    out = [exchange(request("GET", paths[i % len(paths)]), cat)
           for i in range(max(1, 900 * scale // 100))]
    # Pipelined keep-alive requests: 50 in one write.
    one = request("GET", "/health").replace(b"Connection: close", b"Connection: keep-alive")
    for _ in range(max(1, 20 * scale // 100)):
        out.append(exchange(one * 49 + request("GET", "/health"), "pipelined", timeout=10))
        STATS.count("pipelined", "extra requests in the pipe", 49)
    return out


async def slowloris(n, seconds):
    """`n` connections each sending a header byte a second; how long until the
    server closed each."""
    async def one():
        writer = None
        start = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", ENGINE.port)
            for ch in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
                writer.write(bytes([ch]))
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    pass
                if time.monotonic() - start > seconds:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            if writer is not None:
                writer.close()
        STATS.count("slowloris", "closed")
        return time.monotonic() - start

    return await asyncio.gather(*(one() for _ in range(n)))


async def connection_flood(n):
    """`n` connections at once, half of them idle, half asking for /health."""
    socks = []
    for i in range(n):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", ENGINE.port)
            socks.append((r, w))
            if i % 2 == 0:
                w.write(request("GET", "/health").replace(b"Connection: close",
                                                          b"Connection: keep-alive"))
            STATS.count("thousands of connections", "opened")
        except (ConnectionError, OSError):
            STATS.count("thousands of connections", "refused")
    await asyncio.sleep(3)
    for _, w in socks:
        w.close()
    return len(socks)


async def health_sampler(stop, samples, failures):
    while not stop.is_set():
        t0 = time.monotonic()
        status = await exchange(request("GET", "/health", token=False), "health samples",
                                timeout=5)
        dt = (time.monotonic() - t0) * 1000
        if status == "200":
            samples.append(dt)
        else:
            failures.append(status)
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except asyncio.TimeoutError:
            pass


# -- checks ------------------------------------------------------------------------------


def http_json(method, path, body=b"", token=True):
    s = socket.create_connection(("127.0.0.1", ENGINE.port), timeout=10)
    try:
        s.sendall(request(method, path, body, token=token))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), json.loads(body or b"null")


async def ws_check():
    frames = [ws_frame(json.dumps({"type": "subscribe", "topics": ["status"]}).encode())]
    got = await ws_session(frames, "final check", auth=True, read_answers=True, timeout=10)
    return any('"subscribed"' in f for f in got)


def rss_settled(samples=3):
    xs = []
    for _ in range(samples):
        xs.append(ENGINE.rss_kb())
        time.sleep(1)
    return int(statistics.median(xs))


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# WebSocket attacks run fewer at a time: the engine serves a bounded number
# of WebSocket clients (--max-ws-clients) and refuses the rest, which would
# leave most garbage frames unsent.
WS_PHASES = {"garbage WebSocket frames": 16}


async def storm(scale, phases, crash):
    for name, make in phases:
        if not ENGINE.alive():
            break
        t0 = time.monotonic()
        await bounded(make(scale), WS_PHASES.get(name, 150))
        await asyncio.sleep(0.5)  # a signal takes a moment to be seen
        if not ENGINE.alive() and crash[0] is None:
            crash[0] = name
        print(f"hostile:   {name:<28} {time.monotonic() - t0:6.1f} s, sent so far {STATS.sent}",
              flush=True)


def main():
    global ENGINE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", required=True)
    ap.add_argument("--engine-arg", action="append", default=[],
                    help="an extra argument for `optischema serve` (repeatable)")
    ap.add_argument("--scale", type=int, default=100, help="percent of the full storm")
    ap.add_argument("--slowloris", type=int, default=300)
    ap.add_argument("--connections", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=1,
                    help="storms in a row (RSS after each: a leak grows, a pool does not)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--hold", type=float, default=0,
                    help="seconds to leave the engine running after the checks (to inspect it)")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, args.connections + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    tmp = tempfile.mkdtemp(prefix="optischema-hostile-")
    ENGINE = Engine(os.path.abspath(args.engine), tmp, args.engine_arg)
    print(f"hostile: engine {args.engine} pid {ENGINE.proc.pid} at {ENGINE.url}", flush=True)
    ok = True
    crash = [None]
    phases = [
        ("deep nesting", deep_nesting),
        ("huge and truncated bodies", huge_and_truncated),
        ("bad chunking", bad_chunking),
        ("invalid UTF-8", invalid_utf8),
        ("header floods", header_floods),
        ("wrong Origin/Host, no token", wrong_origin_host_token),
        ("garbage", garbage),
        ("garbage WebSocket frames", garbage_ws),
        ("valid requests", valid_mix),
    ]
    try:
        # Warm-up: every kind of request at a small scale, so pools, arenas
        # and caches the storm will use exist before RSS is first measured.
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(storm(5, phases, crash))
        loop.run_until_complete(slowloris(10, 2))
        # Past the connection limit once, so every connection the engine
        # will hold has existed before RSS is first measured.
        loop.run_until_complete(connection_flood(600))
        warm_sent = STATS.sent
        if not ENGINE.alive():
            print(f"\n== hostile run\nengine:            {args.engine}")
            print(f"requests sent:     {STATS.sent} (warm-up)")
            print(f"crashes:           1 ({ENGINE.exit_description()} during the warm-up's "
                  f"'{crash[0]}')")
            print("engine log (tail):\n" + ENGINE.tail())
            ok = False
            return 1
        time.sleep(3)
        rss_before = rss_settled()
        print(f"hostile: warm-up {warm_sent} requests, RSS {rss_before} kB", flush=True)
        STATS.__init__()
        samples, failures = [], []
        t0 = time.monotonic()

        async def run_storm():
            stop = asyncio.Event()
            sampler = asyncio.ensure_future(health_sampler(stop, samples, failures))
            slow = asyncio.ensure_future(slowloris(args.slowloris, 40))
            await storm(args.scale, phases, crash)
            if ENGINE.alive():
                await connection_flood(args.connections)
                print(f"hostile:   {'thousands of connections':<28} sent so far {STATS.sent}",
                      flush=True)
            if ENGINE.alive():
                await storm(args.scale, phases[:1], crash)  # once more, after all of it
            held = await slow
            stop.set()
            await sampler
            return held

        held = []
        for r in range(args.rounds):
            held = loop.run_until_complete(run_storm())
            if args.rounds > 1:
                time.sleep(3)
                print(f"hostile: round {r + 1}: {STATS.sent} requests so far, RSS "
                      f"{rss_settled()} kB", flush=True)
        storm_s = time.monotonic() - t0
        if not ENGINE.alive() and crash[0] is None:
            crash[0] = "the end of the storm"
        # Let closed connections be reaped and freed memory be reused.
        rss_after = 0
        if ENGINE.alive():
            deadline = time.monotonic() + 30
            while True:
                time.sleep(2)
                rss_after = rss_settled()
                if rss_after <= rss_before * 1.10 or time.monotonic() > deadline:
                    break
        print("\n== hostile run", flush=True)
        print(f"engine:            {args.engine}")
        print(f"requests sent:     {STATS.sent} (HTTP requests, connections and WebSocket "
              f"frames) in {storm_s:.1f} s")
        for cat, counts in sorted(STATS.by_category.items()):
            shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            print(f"  {cat:<26} {shown}")
        crashes = 0 if ENGINE.alive() else 1
        print(f"crashes:           {crashes}" +
              (f" ({ENGINE.exit_description()} during '{crash[0]}')" if crashes else ""))
        if held:
            print(f"slowloris:         {len(held)} connections held at most {max(held):.1f} s "
                  f"(median {statistics.median(held):.1f} s)")
        print(f"/health during it: {len(samples)} answered, p50 {percentile(samples, 50):.1f} ms, "
              f"p99 {percentile(samples, 99):.1f} ms, max {max(samples or [0]):.1f} ms, "
              f"{len(failures)} not answered ({', '.join(sorted(set(failures))) or 'none'})")
        if crashes:
            print(f"RSS before:        {rss_before} kB; after: the process is gone")
            print("engine log (tail):\n" + ENGINE.tail())
            ok = False
        else:
            growth = (rss_after - rss_before) / rss_before * 100
            print(f"RSS before/after:  {rss_before} kB / {rss_after} kB ({growth:+.1f} %)")
            checks = []
            st, health = http_json("GET", "/health", token=False)
            checks.append(("/health answers", st == 200 and health.get("status") == "ok"))
            st, targets = http_json("GET", "/api/targets", token=False)
            checks.append(("/api/targets lists the target",
                           st == 200 and targets == {"targets": [TARGET]}))
            st, status = http_json("GET", "/api/status", token=False)
            t = (status or {}).get("targets", [{}])[0]
            checks.append(("/api/status says the target is down and why",
                           st == 200 and t.get("name") == TARGET and t.get("state") == "down"
                           and "cannot reach" in json.dumps(t.get("error"))))
            st, collect = http_json("POST", "/api/collect", b"{}")
            checks.append(("POST /api/collect with the token answers 503 db_unreachable",
                           st == 503 and collect["error"]["code"] == "db_unreachable"))
            checks.append(("a WebSocket client subscribes", loop.run_until_complete(ws_check())))
            checks.append(("RSS within 10 % of the start", rss_after <= rss_before * 1.10))
            checks.append(("no crash", crashes == 0))
            checks.append(("at least 10,000 requests",
                           STATS.sent >= 10_000 * args.scale // 100 * args.rounds))
            for name, good in checks:
                print(f"{'ok  ' if good else 'FAIL'} {name}")
                ok = ok and good
        loop.close()
        if args.hold:
            print(f"hostile: holding pid {ENGINE.proc.pid} for {args.hold:.0f} s", flush=True)
            time.sleep(args.hold)
    finally:
        ENGINE.stop()
        if args.keep or not ok:
            print(f"hostile: kept {tmp} (engine log: {ENGINE.log_path})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("hostile: PASS" if ok else "hostile: FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
