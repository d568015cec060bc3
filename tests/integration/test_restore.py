#!/usr/bin/python3
"""A daemon that starts from what the last run left: after a restart it
answers live queries from the models saved in its state directory, byte
for byte as a fresh scan did, with the registry down; and a read replica
(daemon: scan: false) serves what another daemon saves in a shared
directory, following its changes, without ever asking the registry."""

import gzip
import http.client
import os
import re
import signal
import threading

import ritest
import services
from ritest import ri_testdata

FLATPAK_QUERY = "label%3Aorg.flatpak.ref%3Aexists=1&architecture={arch}&os=linux&tag={tag}"
# Queries on what skip_flatpak_labels removes from the index file, on
# annotations, lists and tags: what a model rebuilt from the files would get wrong.
QUERIES = [
    ("/index/static", ""),
    ("/index/static", FLATPAK_QUERY.format(arch="amd64", tag="latest")),
    ("/index/static", FLATPAK_QUERY.format(arch="arm64", tag="latest")),
    ("/index/dynamic", "tag=testing"),
    ("/index/dynamic", "repository=org.example.multi"),
    ("/index/static", "label%3Aorg.example.flavour=sweet"),
    ("/skip/index/static", FLATPAK_QUERY.format(arch="amd64", tag="latest")),
    ("/skip/index/dynamic", "label%3Aorg.flatpak.ref%3Aexists=1"),
    ("/skip/index/static", "annotation%3Aorg.example.note=kept"),
]


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def answers(port):
    """Every query's answer, plain and gzipped, with the headers clients
    cache by."""
    result = {}
    for path, query in QUERIES:
        for encoding in ("identity", "gzip"):
            status, headers, body = get(port, path + "?" + query, {"Accept-Encoding": encoding})
            if headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            result[(path, query, encoding)] = (status, headers.get("etag"), headers.get("cache-control"), body)
    return result


class GatedProxy(services.FaultProxy):
    """Passes requests on to a registry, or holds them until opened: a
    scan that cannot end until the test says so."""

    def __init__(self, upstream_port):
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0
        super().__init__(upstream_port)

    def serve(self, handler):
        if not self.gate.is_set():
            with self.lock:
                self.held += 1
            self.gate.wait(timeout=120)
        super().serve(handler)

    def close(self):
        self.gate.set()
        super().close()


class SavedModelsTestCase(ritest.DaemonTestCase):
    registry_access_log = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push([
            {"repository": "org.example.app", "tags": ["latest"], "architecture": "amd64",
             "labels": dict(ri_testdata.flatpak_labels("org.example.App", "amd64"), **{"org.example.flavour": "sweet"}),
             "annotations": {"org.example.note": "kept"}},
            {"repository": "org.example.app", "tags": ["testing"], "architecture": "amd64",
             "labels": dict(ri_testdata.flatpak_labels("org.example.App", "amd64"), testing="1")},
            {"repository": "org.example.multi", "tags": ["latest"],
             "list": [{"architecture": a, "labels": ri_testdata.flatpak_labels("org.example.Multi", a)}
                      for a in ("amd64", "arm64")]},
            {"repository": "org.example.plain", "tags": ["latest", "v1"], "architecture": "amd64",
             "labels": {"org.example.flavour": "sour"}},
        ])

    def config(self, port, state_dir, scan=True, tags="['*']", registry=None):
        registry = registry or self.registry.url
        return ("indexes:\n"
                "  all:\n    registry: %s\n    output: %s\n    tags: %s\n"
                "  skip:\n    registry: %s\n    tags: ['latest']\n    skip_flatpak_labels: true\n"
                "    skip_flatpak_annotations: true\n"
                "daemon:\n"
                "  coalesce_delay: 50\n"
                "  state_dir: %s\n"
                "  scan: %s\n"
                "  http:\n"
                "    listen: ['127.0.0.1:%d']\n"
                "    serve: {/: all, /skip/: skip}\n" % (
                    registry, self.path("out", "all.json"), tags, registry, state_dir,
                    "true" if scan else "false", port))

    def regindexer_requests_since(self, offset):
        with open(self.registry.log_path, errors="replace") as f:
            f.seek(offset)
            return [line for line in f if "regindexer/" in line]

    def restart_registry_after(self):
        port = self.registry.port
        self.registry.stop()
        self.addCleanup(self.registry.start, port)


class RestoreTest(SavedModelsTestCase):
    def test_restart_answers_as_the_scan_did_with_the_registry_down(self):
        port = ri_testdata.free_port()
        state = self.path("state")
        self.start_daemon(self.config(port, state))
        fresh = answers(port)
        self.assertTrue(all(status == 200 for status, _, _, _ in fresh.values()), fresh)
        # Matched on a label its answer (and an index file) leaves out: only the model knows it.
        skipped = fresh[("/skip/index/dynamic", "label%3Aorg.flatpak.ref%3Aexists=1", "identity")][3]
        self.assertIn(b'"org.example.app"', skipped)
        self.assertNotIn(b"org.flatpak.ref", skipped)
        self.assertEqual(sorted(os.listdir(state)), ["all.model", "skip.model"])
        self.daemon.stop()

        self.restart_registry_after()
        self.start_daemon(self.config(port, state), wait=False)
        self.client.wait_for_name()
        # Before the first scan ends (it cannot: the registry is down) and after it failed.
        restored = answers(port)
        self.client.wait_idle()
        self.assertFalse(self.client.status()["last-success"])
        after_failure = answers(port)
        for key in fresh:
            with self.subTest(query=key):
                self.assertEqual(restored[key], fresh[key])
                self.assertEqual(after_failure[key], fresh[key])
        models = self.client.status()["models"]
        self.assertEqual((models["restored"], models["replica"], models["directory"]), (2, False, state))

    def test_a_restart_answers_while_its_first_scan_runs(self):
        proxy = GatedProxy(self.registry.port)
        self.addCleanup(proxy.close)
        port = ri_testdata.free_port()
        state = self.path("state")
        self.start_daemon(self.config(port, state, registry=proxy.url))
        fresh = answers(port)
        self.daemon.stop()

        proxy.gate.clear()
        self.start_daemon(self.config(port, state, registry=proxy.url), wait=False)
        self.client.wait_for_name()
        self.client.iterate_until(lambda: proxy.held > 0 and self.client.status()["state"] == "indexing",
                                  timeout=60, message="the first scan to be held")
        self.assertEqual(answers(port), fresh)
        self.assertEqual(self.client.status()["state"], "indexing")
        proxy.gate.set()
        self.client.wait_idle()
        self.assertTrue(self.client.status()["last-success"])
        self.assertEqual(answers(port), fresh)

    def test_a_model_saved_for_other_tags_is_not_used(self):
        port = ri_testdata.free_port()
        state = self.path("state")
        self.start_daemon(self.config(port, state))
        self.assertEqual(get(port, "/index/static?tag=v1")[0], 200)
        self.daemon.stop()

        self.restart_registry_after()
        self.start_daemon(self.config(port, state, tags="['latest']"), wait=False)
        self.client.wait_for_name()
        # The model of 'all' holds tags the index no longer selects: a scan must build it.
        self.assertEqual(get(port, "/index/static?tag=latest")[0], 503)
        self.assertEqual(get(port, "/skip/index/static?tag=latest")[0], 200)
        self.client.wait_idle()
        self.assertIn("was saved for other tags", self.daemon.output())

    def test_a_damaged_model_is_refused_and_the_daemon_goes_on(self):
        port = ri_testdata.free_port()
        state = self.path("state")
        self.start_daemon(self.config(port, state))
        self.daemon.stop()
        for name, data in (("all.model", b""), ("skip.model", os.urandom(3000))):
            with open(os.path.join(state, name), "wb") as f:
                f.write(data)

        self.start_daemon(self.config(port, state))
        # The first scan replaced both.
        self.assertEqual(get(port, "/index/static?tag=latest")[0], 200)
        self.assertEqual(get(port, "/skip/index/static?tag=latest")[0], 200)
        self.assertIn("cannot restore its model", self.daemon.output())


class ReplicaTest(SavedModelsTestCase):
    def start_replica(self, port, state):
        bus = ritest.Bus(self.path("replica-bus"))
        self.addCleanup(bus.stop)
        client = ritest.Client(bus.address)
        self.addCleanup(client.close)
        config_path = self.write_config(self.config(port, state, scan=False), "replica.yaml")
        replica = ritest.Daemon(bus, config_path, self.path("replica.log"))

        def stop():
            status = replica.stop()
            if "CRITICAL" in replica.output() or status not in (0, None):
                raise AssertionError("the replica exited %s:\n%s" % (status, replica.output()))
        self.addCleanup(stop)
        client.wait_for_name()
        return replica, client, config_path

    def test_a_replica_serves_what_the_writer_saves(self):
        writer_port, replica_port = ri_testdata.free_port(), ri_testdata.free_port()
        shared = self.path("shared")
        self.start_daemon(self.config(writer_port, shared))
        offset = os.path.getsize(self.registry.log_path)

        replica, replica_client, replica_config = self.start_replica(replica_port, shared)
        self.assertEqual(answers(replica_port), answers(writer_port))
        self.assertEqual(self.regindexer_requests_since(offset), [])

        # A push the writer indexes reaches the replica's answers.
        self.push([{"repository": "org.example.app", "tags": ["v2"], "architecture": "amd64",
                    "labels": ri_testdata.flatpak_labels("org.example.App", "amd64")}])
        self.client.wait_finished(self.client.reindex())

        def replica_has_v2():
            status, _, body = get(replica_port, "/index/dynamic?tag=v2")
            return status == 200 and b'"v2"' in body
        ritest.wait_for(replica_has_v2, timeout=60, message="the replica to answer with the pushed tag")
        self.assertEqual(answers(replica_port), answers(writer_port))

        # With the writer gone, nothing makes the replica scan: not a
        # request over D-Bus, nor a reload.
        self.daemon.stop()
        offset = os.path.getsize(self.registry.log_path)
        name, message = replica_client.call_error("Reindex", "(asa{sv})", ([], {}))
        self.assertIn("read replica", message)
        replica.process.send_signal(signal.SIGHUP)
        replica_client.iterate_until(lambda: "Reloaded the configuration" in replica.output(),
                                     timeout=30, message="the replica to reload")
        status = replica_client.status()
        self.assertEqual(status["last-job"], 0)
        self.assertEqual(status["state"], "idle")
        self.assertTrue(status["models"]["replica"])
        self.assertGreaterEqual(status["models"]["reloaded"], 1)
        self.assertEqual(get(replica_port, "/index/dynamic?tag=v2")[0], 200)
        self.assertEqual(self.regindexer_requests_since(offset), [])
        self.assertNotRegex(replica.output(), re.compile(r"Job \d+: indexing"))


if __name__ == "__main__":
    ritest.main()
