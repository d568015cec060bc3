#!/usr/bin/python3
"""The daemon's HTTP listener against hostile and careless clients.

Straight at the daemon's port, as any local user can: descriptors run
out, idle and trickling connections, connection limits, requests the
engine refuses itself, odd notification bodies, a flood of distinct
queries beside a steady client, and many requests against memory. Each
case checks the daemon still answers afterwards and holds no descriptor
or memory more than before.
"""

import json
import os
import re
import resource
import socket
import threading
import time

import ritest
from ritest import ri_testdata
from test_http import FLATPAK_QUERY, HttpTestCase



def descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def connect(port, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(30)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s):
    """What the daemon sends until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def status_of(response):
    match = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    return int(match.group(1)) if match else None


class HostileTestCase(HttpTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push([{"repository": "org.example.alpha", "tags": ["latest"], "architecture": "amd64",
                   "labels": ri_testdata.flatpak_labels("org.example.Alpha", "amd64")}])

    def start(self, extra_http="", extra_env=None):
        self.start_http_daemon("  live:\n    registry: %s\n" % self.registry.url, "      /: live\n",
                               extra_http=extra_http, extra_env=extra_env)
        self.pid = self.daemon.process.pid

    def counters(self):
        return self.client.status()["http"]

    def wait_counter(self, name, value, message=None):
        return ritest.wait_for(lambda: self.counters()[name] == value, timeout=60,
                               message=message or "%s to be %d" % (name, value))

    def assert_answers(self):
        status, _, body = self.http.get("/index/static?" + FLATPAK_QUERY)
        self.assertEqual(status, 200, body)
        self.assertEqual([r["Name"] for r in json.loads(body)["Results"]], ["org.example.alpha"])


class DescriptorsTest(HostileTestCase):
    def test_running_out_of_descriptors_pauses_and_resumes(self):
        # The connection limit is above the descriptor limit here, so
        # accept() itself fails (EMFILE) until clients go away.
        self.start("    max_connections: 10000\n    max_connections_per_client: 10000\n")
        self.assert_answers()
        self.wait_counter("connections-open", 0)
        before = descriptors(self.pid)
        resource.prlimit(self.pid, resource.RLIMIT_NOFILE, (before + 40, before + 40))
        clients = [connect(self.port) for _ in range(100)]
        ritest.wait_for(lambda: self.counters()["accept-paused"] >= 1, timeout=60, message="accepting to pause")
        for s in clients:
            s.close()
        ritest.wait_for(lambda: self.counters()["connections-open"] == 0, timeout=60,
                        message="the idle clients to be gone")
        # The connections left in the backlog when descriptors ran out
        # are taken and closed as their clients had gone.
        ritest.wait_for(lambda: self.counters()["connections"] == 100 + 1, timeout=60,
                        message="every connection accepted at last")
        self.assert_answers()
        self.assertEqual(self.daemon.output().count("Cannot accept HTTP connections for now"), 1)
        self.assertIn("Accepting HTTP connections again", self.daemon.output())
        ritest.wait_for(lambda: descriptors(self.pid) == before, timeout=60, message="descriptors back")


class TimeoutTest(HostileTestCase):
    def test_idle_and_trickling_connections_are_closed(self):
        self.start("    request_timeout: 1\n    idle_timeout: 2\n")
        self.assert_answers()
        idle = [connect(self.port) for _ in range(10)]
        trickling = [connect(self.port) for _ in range(10)]
        for s in trickling:
            s.sendall(b"GET /index/static HTTP/1.1\r\n")
        stop = threading.Event()

        def trickle():
            # A header byte now and then: never inactive, never complete.
            while not stop.wait(0.2):
                for s in trickling:
                    try:
                        s.sendall(b"X")
                    except OSError:
                        pass
        thread = threading.Thread(target=trickle)
        thread.start()
        try:
            for s in idle + trickling:
                self.assertEqual(read_all(s), b"")
        finally:
            stop.set()
            thread.join(timeout=30)
        self.wait_counter("connections-timed-out", 20)

        # A kept-alive connection: answered twice, then closed when idle.
        s = connect(self.port)
        request = ("GET /index/static?%s HTTP/1.1\r\nHost: x\r\n\r\n" % FLATPAK_QUERY).encode()
        s.sendall(request + request)
        data = read_all(s)
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2)
        self.assertNotIn(b"Connection: close", data)
        self.wait_counter("connections-timed-out", 21)
        for c in idle + trickling + [s]:
            c.close()
        self.assert_answers()


class LimitsTest(HostileTestCase):
    def test_connection_limits(self):
        self.start("    max_connections: 10\n    max_connections_per_client: 5\n")
        base = self.counters()["connections"]
        first = [connect(self.port, "127.0.0.1") for _ in range(5)]
        self.wait_counter("connections-open", 5)
        extra = connect(self.port, "127.0.0.1")
        self.assertEqual(read_all(extra), b"")  # closed at once
        second = [connect(self.port, "127.0.0.2") for _ in range(5)]
        self.wait_counter("connections-open", 10)
        third = connect(self.port, "127.0.0.3")
        self.assertEqual(read_all(third), b"")
        counters = self.counters()
        self.assertEqual(counters["connections-refused"], 2)
        self.assertEqual(counters["connections"] - base, 10)
        for s in first + second + [extra, third]:
            s.close()
        self.wait_counter("connections-open", 0)
        self.assert_answers()


class RequestFormsTest(HostileTestCase):
    FORMS = [
        (b"GET /index/static%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /icons/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET ftp://e/x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET http://elsewhere.example/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /nothing HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 100000 + b"\r\n\r\n", None),
        (b"\x00\x01\x02 garbage\r\n\r\n", None),
        (b"GET / HTTP/1.1\r\n", None),  # then closed half-way
        (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n", "continue"),
        (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n5\r\n[1,2", None),  # then closed mid-chunk
    ]

    def test_no_descriptor_is_kept_whatever_the_request(self):
        self.start("    events: true\n")
        self.assert_answers()
        self.wait_counter("connections-open", 0)
        before = descriptors(self.pid)
        for raw, expected in self.FORMS:
            for _ in range(20):
                s = connect(self.port)
                try:
                    s.sendall(raw)
                except OSError:
                    pass
                if expected == "continue":
                    self.assertEqual(s.recv(25), b"HTTP/1.1 100 Continue\r\n\r\n")
                elif isinstance(expected, int):
                    self.assertEqual(status_of(s.recv(65536)), expected, raw[:60])
                s.close()
            ritest.wait_for(lambda: descriptors(self.pid) == before, timeout=60,
                            message="the daemon's descriptors back to %d after %r" % (before, raw[:40]))
            self.wait_counter("connections-open", 0, "no connection left after %r" % raw[:40])
        self.assert_answers()


class RequestHeadTest(HostileTestCase):
    def test_heads_up_to_about_7_kib_are_answered(self):
        self.start()
        self.assert_answers()
        for size, expected in [(1024, 200), (6 * 1024, 200), (8 * 1024, 431), (64 * 1024, 431)]:
            s = connect(self.port)
            try:
                s.sendall(("GET /index/static?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: %s\r\n\r\n"
                           % (FLATPAK_QUERY, "a" * size)).encode())
                self.assertEqual(status_of(read_all(s)), expected, size)
            finally:
                s.close()
        self.wait_counter("connections-open", 0)
        self.assert_answers()


class EventBodiesTest(HostileTestCase):
    def post(self, raw):
        s = connect(self.port)
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            return read_all(s)
        finally:
            s.close()

    def test_empty_chunked_and_http_1_0_bodies(self):
        self.start("    events: true\n")
        head = b"POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        envelope = json.dumps({"events": []}).encode()
        for raw, expected, text in [
                (head + b"Content-Length: 0\r\n\r\n", 400, b"empty"),
                (head + b"\r\n", 400, b"empty"),
                (head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, b"empty"),
                (head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(envelope), envelope),
                 202, b"0 events"),
                (b"POST /events HTTP/1.0\r\nContent-Type: application/json\r\n\r\n", 400, b"empty"),
                (b"POST /events HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(envelope), envelope), 202, b"0 events"),
                (head + b"Content-Length: 4\r\n\r\nnull", 400, b"Malformed"),
                (head + b"Content-Length: 1\r\n\r\n\x00", 400, b"Malformed")]:
            response = self.post(raw)
            self.assertEqual(status_of(response), expected, (raw, response))
            self.assertIn(text, response, raw)
        counters = self.counters()
        self.assertEqual(counters["event-posts"], 2)
        self.assertEqual(counters["event-posts-rejected"], 6)
        self.assert_answers()

    def test_deeply_nested_json(self):
        self.start("    events: true\n")
        depth = 100000
        body = b"[" * depth + b"]" * depth
        response = self.post(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.assertEqual(status_of(response), 400, response[:200])
        self.assert_answers()


class FloodTest(HostileTestCase):
    def test_a_flood_of_distinct_queries_beside_a_steady_client(self):
        self.start()
        self.assert_answers()
        stop = threading.Event()
        steady = []
        flood = []

        def steady_client():
            while not stop.is_set():
                steady.append(self.http.get("/index/static?" + FLATPAK_QUERY)[0])

        def flooder(offset):
            for i in range(40):
                flood.append(self.http.get("/index/dynamic?tag=latest&tag=f%d-%d" % (offset, i))[0])
        steady_thread = threading.Thread(target=steady_client)
        steady_thread.start()
        # More at once than answers are built at once: some get 503.
        flooders = [threading.Thread(target=flooder, args=(n,)) for n in range(16)]
        for thread in flooders:
            thread.start()
        for thread in flooders:
            thread.join(timeout=300)
        stop.set()
        steady_thread.join(timeout=60)
        self.assertEqual(len(flood), 640)
        self.assertEqual(set(flood) - {200, 503}, set())
        self.assertTrue(steady)
        self.assertEqual(set(steady), {200})
        counters = self.counters()
        # Up to 640 answers in 256 places: one evicted for each beyond them,
        # the steady answer never.
        built = 1 + flood.count(200)
        self.assertEqual(counters["rendered"], built)
        self.assertEqual(counters["answers-evicted"], built - 256)
        self.assertEqual(counters["kept-answers"], 256)


class MemoryTest(HostileTestCase):
    def test_memory_does_not_grow_with_requests(self):
        # Under AddressSanitizer, freed memory is held in quarantine: RSS
        # then means what it means without sanitizers only without one.
        asan = os.environ.get("ASAN_OPTIONS")
        self.start(extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=0"})
        self.assert_answers()

        def rss_kib():
            with open("/proc/%d/status" % self.pid) as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

        def many(n):
            s = connect(self.port)
            request = b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
            answer = ("GET /index/static?%s HTTP/1.1\r\nHost: x\r\n\r\n" % FLATPAK_QUERY).encode()
            for i in range(n // 100):
                s.sendall((request + answer) * 50)
                received = b""
                while received.count(b"HTTP/1.1 ") < 100:
                    chunk = s.recv(1 << 20)
                    self.assertTrue(chunk)
                    received += chunk
            s.close()
        many(20000)  # the allocator's pools reach their working size
        before = rss_kib()
        many(80000)
        # 80,000 requests at 340 bytes each would be 26 MiB.
        self.assertLess(rss_kib() - before, 4 * 1024)


if __name__ == "__main__":
    ritest.main()
