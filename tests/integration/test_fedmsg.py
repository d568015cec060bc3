#!/usr/bin/python3
"""The fedmsg trigger: a real ZeroMQ publisher on an ipc:// socket, the daemon
subscribed to it, and reindexes observed through the D-Bus signals."""

import json
import time

import ritest

try:
    import zmq
except ImportError:
    zmq = None

TOPIC = "org.fedoraproject.dev.bodhi.compose.complete"
OLD_TOPIC = "org.fedoraproject.dev.bodhi.mashtask.complete"


def body(ctype="flatpak", success=True, **extra):
    msg = {"ctype": ctype, "repo": "f40-flatpak-updates", "agent": "bodhi", "success": success}
    msg.update(extra)
    return json.dumps({"i": 1, "timestamp": time.time(), "topic": TOPIC, "msg": msg}).encode()


class Publisher:
    """An XPUB socket: like fedmsg's PUB, but it also tells us when a
    subscriber's subscription arrived, so no message is sent into the void."""

    def __init__(self, endpoint):
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(endpoint)

    def wait_subscribed(self, count=2, timeout=30):
        seen = set()
        deadline = time.monotonic() + timeout
        while len(seen) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.socket.poll(int(remaining * 1000)):
                raise AssertionError("no subscription arrived within %ss (saw %s)" % (timeout, seen))
            message = self.socket.recv()
            if message[:1] == b"\x01":
                seen.add(message[1:].decode())
        return seen

    def send(self, *frames):
        self.socket.send_multipart([f.encode() if isinstance(f, str) else f for f in frames])

    def close(self):
        self.socket.close(0)
        self.context.term()


class FedmsgTest(ritest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        if zmq is None:
            ritest.skip_or_fail("python3-zmq is not installed")
        super().setUpClass()
        cls.push([{"repository": "org.example.app", "tags": ["latest"], "labels": {"a": "b"}}])

    def setUp(self):
        super().setUp()
        self.endpoint = "ipc://" + self.path("fedmsg.sock")
        self.publisher = Publisher(self.endpoint)
        self.addCleanup(lambda: self.publisher.close())
        self.start_daemon("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n"
                          "daemon:\n  endpoints: ['%s']\n  reconnect_interval: 100\n"
                          "  max_message_size: 4096\n" % (self.registry.url, self.endpoint))
        self.assertEqual(self.publisher.wait_subscribed(), {TOPIC, OLD_TOPIC})
        self.client.signals.clear()

    def fedmsg_status(self):
        return self.client.status()["fedmsg"]

    def wait_received(self, count):
        return self.client.iterate_until(
            lambda: self.fedmsg_status() if self.fedmsg_status()["received"] >= count else None,
            message="%d messages received" % count)

    def runs_started(self):
        return [args[0] for _, name, args in self.client.signals if name == "ReindexStarted"]

    def test_status_describes_the_subscriber(self):
        status = self.fedmsg_status()
        self.assertEqual(status["endpoints"], [self.endpoint])
        self.assertEqual(status["topics"], [TOPIC, OLD_TOPIC])
        self.assertEqual((status["received"], status["matched"], status["last-received"]), (0, 0, 0))

    def test_matching_message_reindexes_once(self):
        before = time.time()
        self.publisher.send(TOPIC, body())
        status = self.wait_received(1)
        self.assertEqual(status["matched"], 1)
        self.assertGreaterEqual(status["last-received"], int(before * 1e6))
        job = self.client.iterate_until(lambda: self.runs_started(), message="a run")[0]
        self.assertTrue(self.client.wait_finished(job)[1])
        self.client.wait_idle()
        self.assertEqual(self.runs_started(), [job])

    def test_old_topic_and_container(self):
        self.publisher.send(OLD_TOPIC, body(ctype="container"))
        self.assertEqual(self.wait_received(1)["matched"], 1)
        job = self.client.iterate_until(lambda: self.runs_started(), message="a run")[0]
        self.client.wait_finished(job)

    def test_burst_gives_at_most_two_runs(self):
        for _ in range(200):
            self.publisher.send(TOPIC, body())
        status = self.wait_received(200)
        self.assertEqual(status["matched"], 200)
        self.client.wait_idle()
        self.assertGreaterEqual(len(self.runs_started()), 1)
        self.assertLessEqual(len(self.runs_started()), 2)

    def test_ignored_and_malformed(self):
        cases = [
            ("ignored", (TOPIC, body(ctype="rpm"))),
            ("ignored", (TOPIC, body(success=False))),
            ("ignored", (TOPIC + ".extra", body())),      # shares the prefix ZeroMQ matches on
            ("malformed", (TOPIC,)),                        # one frame
            ("malformed", (TOPIC, body(), b"third")),       # three frames
            ("malformed", (TOPIC, b"{not json")),
            ("malformed", (TOPIC, b"[1, 2]")),
            ("malformed", (TOPIC, b'{"i": 1}')),            # no msg
            ("malformed", (TOPIC, b'{"msg": "text"}')),
            ("malformed", (TOPIC, b"x" * 10000)),           # over max_message_size
            ("malformed", (b"\xff\xfe" + TOPIC.encode(), body())),
        ]
        # A different prefix never even reaches the daemon: ZeroMQ filters it.
        self.publisher.send("org.fedoraproject.prod.bodhi.compose.complete", body())
        for _, frames in cases:
            self.publisher.send(*frames)
        status = self.wait_received(len([c for c in cases if c[1][0] != b"\xff\xfe" + TOPIC.encode()]))
        # The topic that is not UTF-8 does not match the subscription either.
        self.assertEqual(status["ignored"], 3)
        self.assertEqual(status["malformed"], 7)
        self.assertEqual(status["matched"], 0)
        # A message that asks for a run queues it as it is handled, so by
        # the time the counters say every message was handled, a run would
        # be pending (or going, or over): none is, and the start-up run is
        # still the last.
        full = self.client.status()
        self.assertEqual((full["state"], full["current-job"], full["pending-job"], full["last-job"]),
                         ("idle", 0, 0, 1))
        self.client.wait_idle()
        self.assertEqual(self.runs_started(), [])
        # The next job id is still 2: none was handed out meanwhile.
        self.publisher.send(TOPIC, body())
        self.wait_received(status["received"] + 1)
        job = self.client.iterate_until(lambda: self.runs_started(), message="a run")[0]
        self.assertEqual(job, 2)
        output = self.daemon.output()
        self.assertIn("Dropping a malformed fedmsg message: 1 frames, not 2", output)
        self.assertIn("Dropping a malformed fedmsg message: 3 frames, not 2", output)
        self.assertIn("Dropping a malformed fedmsg message: a frame is larger than max_message_size", output)
        self.assertIn("Not reindexing: the flatpak compose failed (success: false)", output)

    def test_back_to_back_messages_all_arrive(self):
        """The edge-triggered ZMQ_FD trap: two messages and then silence.
        A source that read one message per wake-up would leave the second
        unread until a third arrived."""
        for _ in range(3):
            received = self.fedmsg_status()["received"]
            self.publisher.send(TOPIC, body(ctype="rpm"))
            self.publisher.send(TOPIC, body(ctype="rpm"))
            self.assertEqual(self.wait_received(received + 2)["received"], received + 2)

    def test_publisher_restart(self):
        self.publisher.close()
        self.publisher = Publisher(self.endpoint)
        self.assertEqual(self.publisher.wait_subscribed(), {TOPIC, OLD_TOPIC})
        self.publisher.send(TOPIC, body())
        self.assertEqual(self.wait_received(1)["matched"], 1)
        job = self.client.iterate_until(lambda: self.runs_started(), message="a run")[0]
        self.assertTrue(self.client.wait_finished(job)[1])


if __name__ == "__main__":
    ritest.main()
