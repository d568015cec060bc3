#!/usr/bin/python3
"""regindexer-daemon on a private bus with a real registry: Reindex and its
signals, coalescing, errors, status, reload, SIGTERM, busctl, the CLI."""

import json
import os
import shutil
import signal
import subprocess
import time

import ritest
from ritest import ri_testdata

OLD = '{"Registry": "old", "Results": []}\n'


class DaemonTest(ritest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push([
            {"repository": "org.example.app", "tags": ["latest"], "architecture": "amd64",
             "labels": ri_testdata.flatpak_labels("org.example.App", "amd64")},
            {"repository": "tools/base", "tags": ["latest", "1"], "architecture": "arm64", "labels": {}},
        ])

    def config(self, extra=""):
        return ("indexes:\n"
                "  flatpak:\n    output: out/flatpak.json\n    registry: %(url)s\n"
                "    required_labels: ['org.flatpak.ref']\n"
                "  all:\n    output: out/all.json\n    registry: %(url)s\n    tags: ['*']\n"
                % {"url": self.registry.url}) + extra

    def test_startup_run_and_reindex_signals(self):
        self.start_daemon(self.config(), wait=False)
        self.client.wait_for_name()
        # One run at start-up, job 1.
        finished = self.client.wait_finished(1)
        self.assertTrue(finished[1], finished)
        # The state goes back to idle after ReindexFinished: take that
        # PropertiesChanged too before starting afresh.
        self.client.wait_idle()
        self.client.signals.clear()

        job = self.client.reindex()
        self.assertEqual(job, 2)
        finished = self.client.wait_finished(job)
        self.assertTrue(finished[1], finished)
        self.assertRegex(finished[2], r"^2 indexes written \(0 changed\) in \d+\.\d s$")
        names = [(name, args) for _, name, args in self.client.signals if name != "PropertiesChanged"]
        self.assertEqual(names[0], ("ReindexStarted", (job, ["flatpak", "all"])))
        self.assertEqual(sorted(n[1] for n in names[1:3]),
                         [("all", self.path("out", "all.json")), ("flatpak", self.path("out", "flatpak.json"))])
        self.assertTrue(all(n[0] == "IndexWritten" for n in names[1:3]))
        self.assertEqual(names[3][0], "ReindexFinished")
        self.assertEqual(len(names), 4)
        details = finished[3]
        self.assertEqual(details["indexes"]["all"]["images"], 2)
        self.assertEqual(details["indexes"]["flatpak"]["repositories"], 1)
        self.assertFalse(details["indexes"]["all"]["changed"])

        document, _ = self.load("out", "all.json")
        self.assertEqual([r["Name"] for r in document["Results"]], ["org.example.app", "tools/base"])

        # State went indexing → idle through PropertiesChanged.
        states = [args[1]["State"] for _, name, args in self.client.signals
                  if name == "PropertiesChanged" and "State" in args[1]]
        self.assertEqual(states, ["indexing", "idle"])

    def test_some_indexes(self):
        self.start_daemon(self.config())
        os.unlink(self.path("out", "all.json"))
        job = self.client.reindex(["flatpak"])
        finished = self.client.wait_finished(job)
        self.assertEqual(list(finished[3]["indexes"]), ["flatpak"])
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

    def test_burst_coalesces(self):
        self.start_daemon(self.config())
        self.client.signals.clear()
        GLib = self.client.GLib
        replies = []

        def done(connection, result):
            replies.append(connection.call_finish(result).unpack()[0])

        for i in range(100):
            self.client.connection.call(ritest.DBUS_NAME, ritest.DBUS_PATH, ritest.DBUS_INTERFACE, "Reindex",
                                        GLib.Variant("(asa{sv})", ([] if i % 2 else ["all"], {})), None,
                                        self.client.Gio.DBusCallFlags.NONE, 30000, None, done)
        self.client.iterate_until(lambda: len(replies) == 100, message="100 replies")
        jobs = sorted(set(replies))
        self.assertLessEqual(len(jobs), 2)
        self.client.wait_finished(jobs[-1])
        self.client.wait_idle()
        started = [args[0] for _, name, args in self.client.signals if name == "ReindexStarted"]
        self.assertEqual(started, jobs)
        # The follow-up run serves the union: every index.
        last = [args for _, name, args in self.client.signals if name == "ReindexStarted"][-1]
        self.assertEqual(sorted(last[1]), ["all", "flatpak"])

    def test_errors(self):
        self.start_daemon(self.config())
        name, message = self.client.call_error("Reindex", "(asa{sv})", (["flatpak", "nope"], {}))
        self.assertEqual(name, "org.regindexer.Indexer.Error.NotFound")
        self.assertIn("There is no index 'nope'", message)
        self.assertEqual(self.client.status()["pending-job"], 0)
        name, message = self.client.call_error("Reindex", "(asa{sv})", ([], {"frobnicate": self.client.GLib.Variant("b", True)}))
        self.assertEqual(name, "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertIn("frobnicate", message)

    def test_status_after_success_and_failure(self):
        self.start_daemon(self.config("  broken:\n    output: out/broken.json\n    registry: %s\n"
                                      % ritest.closed_port_url()))
        status = self.client.status()
        self.assertEqual(status["state"], "idle")
        self.assertEqual(status["last-job"], 1)
        self.assertFalse(status["last-success"])
        self.assertIn("/v2/_catalog", status["last-error"])
        self.assertEqual(status["config-path"], self.config_path)
        self.assertGreater(status["last-finished"], status["last-started"])
        indexes = status["indexes"]
        self.assertEqual(indexes["all"]["images"], 2)
        self.assertEqual(indexes["all"]["repositories"], 2)
        self.assertEqual(indexes["all"]["last-error"], "")
        self.assertGreater(indexes["all"]["last-write"], 0)
        self.assertEqual(indexes["broken"]["last-write"], 0)
        self.assertIn("Index 'broken' not written", indexes["broken"]["last-error"])
        # One catalog page from the registry, three attempts at the dead one.
        self.assertEqual(status["requests"]["catalog"], 4)
        self.assertEqual(status["requests"]["retries"], 2)
        self.assertGreater(status["bytes"], 0)
        self.assertGreater(status["scan-duration"], 0)
        self.assertGreater(status["write-duration"], 0)
        self.assertIn("Job 1: index 'all' written (2 repositories, 2 images)", self.daemon.output())

        job = self.client.reindex(["all", "flatpak"])
        finished = self.client.wait_finished(job)
        self.assertTrue(finished[1])
        status = self.client.status()
        self.assertTrue(status["last-success"])
        self.assertEqual(status["last-error"], "")
        self.assertEqual(self.client.call("Get", "(ss)", (ritest.DBUS_INTERFACE, "Version"),
                                          interface="org.freedesktop.DBus.Properties")[0], "0.1.0")

    def test_reload(self):
        self.start_daemon(self.config())
        with open(self.config_path, "a") as f:
            f.write("  extra:\n    output: out/extra.json\n    registry: %s\n" % self.registry.url)
        self.client.call("Reload")
        job = self.client.reindex(["extra"])
        self.assertTrue(self.client.wait_finished(job)[1])
        self.assertTrue(os.path.exists(self.path("out", "extra.json")))

        with open(self.config_path, "a") as f:
            f.write("  worse:\n    output: [1]\n")
        name, message = self.client.call_error("Reload")
        self.assertEqual(name, "org.regindexer.Indexer.Error.Config")
        self.assertIn("%s:14:13: 'output' must be a string" % self.config_path, message)
        # The previous configuration is still in use.
        job = self.client.reindex(["extra"])
        self.assertTrue(self.client.wait_finished(job)[1])

        # SIGHUP with a broken file: logged, nothing else changes.
        self.daemon.process.send_signal(signal.SIGHUP)
        self.client.iterate_until(lambda: "Keeping the previous configuration" in self.daemon.output(),
                                  message="the reload to be refused")
        self.assertIn("extra", self.client.status()["indexes"])

        # A file that cannot be read is refused the same way.
        os.rename(self.config_path, self.config_path + ".away")
        name, message = self.client.call_error("Reload")
        self.assertEqual(name, "org.regindexer.Indexer.Error.Config")
        self.assertIn(self.config_path, message)
        self.assertIn("extra", self.client.status()["indexes"])
        os.rename(self.config_path + ".away", self.config_path)

    def test_status_keys_of_unconfigured_parts(self):
        """fedmsg and http are there only when configured, as the XML says."""
        self.start_daemon(self.config())
        status = self.client.status()
        self.assertNotIn("fedmsg", status)
        self.assertNotIn("http", status)
        self.assertEqual((status["next-retry"], status["failed-runs"]), (0, 0))

    def test_second_daemon_and_replace(self):
        self.start_daemon(self.config())
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address)
        second = subprocess.run([ritest.DAEMON, "--session", "-c", self.config_path], env=env, timeout=60,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(second.returncode, 1, second.stdout)
        self.assertIn("another regindexer-daemon runs (use --replace to take over)", second.stdout)

        replacement = ritest.Daemon(self.bus, self.config_path, self.path("replacement.log"), ["--replace"])
        try:
            self.assertEqual(self.daemon.process.wait(timeout=60), 0)
            self.client.wait_for_name()
        finally:
            replacement.stop()

    def test_sigterm_mid_run(self):
        # A registry that answers slowly keeps the run going while we stop it.
        os.makedirs(self.path("out"))
        with open(self.path("out", "slow.json"), "w") as f:
            f.write(OLD)

        def slow(path):
            time.sleep(0.2)
            if path.startswith("/v2/_catalog"):
                return 200, {"Content-Type": "application/json"}, json.dumps(
                    {"repositories": ["r%d" % i for i in range(200)]}).encode()
            return 200, {}, b'{"name": "r", "tags": ["latest"]}'

        stub = ritest.StubServer(slow)
        self.addCleanup(stub.close)
        self.start_daemon("indexes:\n  slow:\n    output: out/slow.json\n    registry: %s\n" % stub.url, wait=False)
        self.client.wait_for_name()
        self.client.iterate_until(lambda: any(n == "ReindexStarted" for _, n, _ in self.client.signals),
                                  message="the run to start")
        self.client.iterate_until(lambda: len(stub.requests) > 2, message="requests to the registry")
        self.daemon.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.process.wait(timeout=30), 0)
        self.client.iterate_until(lambda: self.client.finished(1), timeout=10, message="ReindexFinished(1)")
        finished = self.client.finished(1)
        self.assertFalse(finished[1])
        with open(self.path("out", "slow.json")) as f:
            self.assertEqual(f.read(), OLD)
        self.assertEqual(os.listdir(self.path("out")), ["slow.json"])

    def test_sigterm_does_not_wait_for_a_stalled_registry(self):
        """A registry that never answers (and a time-out far away) must not
        hold the stop up: the run is cancelled, not waited for."""
        import threading
        release = threading.Event()
        self.addCleanup(release.set)

        def stall(path):
            if path.startswith("/v2/_catalog"):
                return 200, {"Content-Type": "application/json"}, b'{"repositories": ["r"]}'
            release.wait(300)
            return 503, {}, b""

        stub = ritest.StubServer(stall)
        self.addCleanup(stub.close)
        self.start_daemon("registries:\n  %s:\n    timeout: 300\n    retries: 0\n"
                          "indexes:\n  stalled:\n    output: out/stalled.json\n    registry: %s\n"
                          % (stub.url, stub.url), wait=False)
        self.client.wait_for_name()
        self.client.iterate_until(lambda: any(p.startswith("/v2/r/") for p in stub.requests),
                                  message="a request that stalls")
        self.daemon.process.send_signal(signal.SIGTERM)
        # Far less than the registry's time-out, and the stalled request is
        # only let go after the daemon is gone.
        self.assertEqual(self.daemon.process.wait(timeout=20), 0)
        self.assertFalse(release.is_set())
        self.client.iterate_until(lambda: self.client.finished(1), timeout=10, message="ReindexFinished(1)")
        self.assertFalse(self.client.finished(1)[1])
        output = self.daemon.output()
        # Cancelled on purpose: logged at debug level, never as a warning,
        # and the run returned (no stop without it).
        warnings = [line for line in output.splitlines() if "WARNING" in line]
        self.assertEqual(warnings, [])
        self.assertIn("cancelled", output)

    def test_sigterm_during_a_retry_after(self):
        """A registry asking to come back in 50 s (429 Retry-After) must
        not hold the stop up either: the daemon exits long before, and the
        run still ends with ReindexFinished."""
        import services
        proxy = services.FaultProxy(self.registry.port)
        self.addCleanup(proxy.close)
        proxy.add(r"/tags/list", ("status", 429, {"Retry-After": "50"}), None)
        self.start_daemon("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n" % proxy.url,
                          wait=False)
        self.client.wait_for_name()
        self.client.iterate_until(lambda: "retrying in 50000 ms" in self.daemon.output(),
                                  message="the back-off to start")
        self.daemon.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.process.wait(timeout=20), 0)
        self.client.iterate_until(lambda: self.client.finished(1), timeout=10, message="ReindexFinished(1)")
        self.assertFalse(self.client.finished(1)[1])
        # One per repository: none was asked again.
        self.assertEqual(proxy.count(r"/tags/list"), 2)

    def test_busctl(self):
        if not shutil.which("busctl"):
            ritest.skip_or_fail("busctl is not installed")
        self.start_daemon(self.config())
        result = subprocess.run(["busctl", "--address=" + self.bus.address, "call", ritest.DBUS_NAME,
                                 ritest.DBUS_PATH, ritest.DBUS_INTERFACE, "Reindex", "asa{sv}", "0", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "t 2")
        self.assertTrue(self.client.wait_finished(2)[1])
        result = subprocess.run(["busctl", "--address=" + self.bus.address, "call", ritest.DBUS_NAME,
                                 ritest.DBUS_PATH, ritest.DBUS_INTERFACE, "Reindex", "asa{sv}", "1", "nope", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("There is no index 'nope'", result.stderr)

    def test_cli_through_the_daemon(self):
        self.start_daemon(self.config())
        env = {"DBUS_SESSION_BUS_ADDRESS": self.bus.address}
        result = ritest.run_cli("--session", "-v", "index", "all", env=env, check=0)
        self.assertIn("Job 2 started: all", result.stdout)
        self.assertIn("  all is up to date: %s" % self.path("out", "all.json"), result.stdout)
        self.assertIn("all: 2 repositories, 2 images (unchanged)", result.stdout)
        self.assertNotIn("in-process", result.stderr)
        result = ritest.run_cli("--session", "index", "nope", env=env, check=2)
        self.assertIn("There is no index 'nope'", result.stderr)
        result = ritest.run_cli("--session", "--no-wait", "index", env=env, check=0)
        self.assertRegex(result.stdout, r"Queued as job \d+")
        result = ritest.run_cli("--session", "status", "--json", env=env, check=0)
        status = json.loads(result.stdout)
        self.assertEqual(status["config-path"], self.config_path)
        self.assertEqual(status["indexes"]["all"]["images"], 2)
        result = ritest.run_cli("--session", "status", env=env, check=0)
        self.assertIn("Configuration: %s" % self.config_path, result.stdout)

    def test_cli_without_a_daemon(self):
        config = self.write_config(self.config())
        bus = ritest.Bus(self.path("bus"))
        self.addCleanup(bus.stop)
        env = {"DBUS_SESSION_BUS_ADDRESS": bus.address}
        result = ritest.run_cli("--session", "-c", config, "index", env=env, check=0)
        self.assertIn("regindexer-daemon is not running; indexing in-process", result.stderr)
        self.assertTrue(os.path.exists(self.path("out", "all.json")))
        result = ritest.run_cli("--session", "--no-wait", "index", env=env, check=1)
        self.assertIn("not running", result.stderr)
        result = ritest.run_cli("--session", "status", env=env, check=1)
        self.assertIn("not running", result.stderr)
        # No bus at all: in-process too.
        result = ritest.run_cli("--session", "-c", config, "index", check=0,
                                env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=" + self.path("no-bus")})
        self.assertIn("indexing in-process", result.stderr)


class DaemonKillTest(ritest.DaemonTestCase):
    """With a registry of its own (behind a proxy that counts requests): it
    pushes new content every round."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push([{"repository": "base", "tags": ["latest"], "labels": {}}])

    def test_sigkill_leaves_old_or_new(self):
        """Killed at any moment of a run, the daemon leaves each index either
        as it was or completely new, never a mix."""
        import random
        import services
        proxy = services.FaultProxy(self.registry.port)
        self.addCleanup(proxy.close)
        config = ("indexes:\n  big:\n    output: out/big.json\n    registry: %s\n    tags: ['*']\n"
                  "daemon:\n  coalesce_delay: 1\n" % proxy.url)
        self.start_daemon(config)

        def name_owned():
            result = self.client.connection.call_sync(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                self.client.GLib.Variant("(s)", (ritest.DBUS_NAME,)), None,
                self.client.Gio.DBusCallFlags.NONE, 5000, None)
            # The bus delivers in order: every signal the daemon sent is
            # queued here before this reply. Handle them.
            context = self.client.GLib.MainContext.default()
            while context.iteration(False):
                pass
            return result.unpack()[0]

        def expected():
            path = self.write_config(config.replace("out/big.json", "expected/big.json"), name="expected.yaml")
            ritest.run_cli("--no-daemon", "-c", path, "index", check=0)
            with open(self.path("expected", "big.json"), "rb") as f:
                return f.read()

        rng = random.Random(1234)
        killed_mid_run = []
        for round_ in range(6):
            with open(self.path("out", "big.json"), "rb") as f:
                old = f.read()
            self.push([{"repository": "kill/r%02d" % i, "tags": ["round%d" % round_], "labels": {"r": str(round_)}}
                       for i in range(40)])
            new = expected()
            self.assertNotEqual(old, new)
            # Killed after the run made this many requests: a run takes
            # some 85 (the tags and manifest of 40 new repositories, and
            # more), so kills land anywhere in the scan up to near its end.
            kill_after = rng.randint(1, 75)
            before = len(proxy.requests)
            # (Job ids start again with each daemon.)
            self.client.signals.clear()
            job = self.client.reindex()
            self.client.iterate_until(lambda: self.client.finished(job) or
                                      len(proxy.requests) - before >= kill_after,
                                      message="%d requests" % kill_after)
            self.daemon.process.kill()
            self.daemon.process.wait(timeout=30)
            self.client.iterate_until(lambda: not name_owned(), message="the name to go")
            mid_run = self.client.finished(job) is None
            killed_mid_run.append(mid_run)
            with open(self.path("out", "big.json"), "rb") as f:
                content = f.read()
            self.assertIn(content, (old, new), "round %d: a mix of old and new" % round_)
            print("round %d: killed after %d requests, %s" % (round_, len(proxy.requests) - before,
                  "mid-run" if mid_run else "after the run"))
            # Restart; the start-up run must bring the new index.
            self.daemon.log.close()
            self.daemon = ritest.Daemon(self.bus, self.config_path, self.path("daemon-%d.log" % round_))
            self.client.wait_for_name()
            self.client.wait_idle()
            with open(self.path("out", "big.json"), "rb") as f:
                self.assertEqual(f.read(), new)
        # Otherwise the rounds prove nothing about a kill during a run.
        self.assertGreaterEqual(killed_mid_run.count(True), 3, killed_mid_run)


class DaemonRetryTest(ritest.BareDaemonTestCase):
    """A registry that is down when the daemon starts, and up later."""

    def test_failed_run_is_retried_until_the_registry_is_up(self):
        import http.client
        ritest.skip_unless_registry()
        port = ri_testdata.free_port()
        http_port = ri_testdata.free_port()
        url = "http://127.0.0.1:%d" % port
        self.start_daemon("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n"
                          "daemon:\n  retry_delay: 1\n  http:\n    listen: ['127.0.0.1:%d']\n"
                          "    serve:\n      /: all\n" % (url, http_port), wait=False)
        self.client.wait_for_name()

        def live_status():
            connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
            try:
                connection.request("GET", "/index/static")
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        # The start-up run fails, and is retried by itself, each time later.
        self.assertFalse(self.client.wait_finished(1)[1])
        status = self.client.status()
        self.assertEqual(status["failed-runs"], 1)
        self.assertGreaterEqual(status["next-retry"], status["last-finished"] + 1000000)
        self.assertFalse(self.client.wait_finished(2)[1])
        status = self.client.status()
        self.assertEqual(status["failed-runs"], 2)
        self.assertGreaterEqual(status["next-retry"], status["last-finished"] + 2000000)
        self.assertEqual(live_status()[0], 503)
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

        registry = ri_testdata.Registry(self.path("registry"))
        registry.start(port=port)
        self.addCleanup(registry.stop)
        ri_testdata.push(url, {"images": [{"repository": "back/up", "tags": ["latest"], "labels": {}}]})

        # No Reindex, no notification: a retry brings both.
        self.client.iterate_until(
            lambda: any(name == "ReindexFinished" and args[1] for _, name, args in self.client.signals),
            timeout=120, message="a successful retry")
        document, _ = self.load("out", "all.json")
        self.assertEqual([r["Name"] for r in document["Results"]], ["back/up"])
        status, body = live_status()
        self.assertEqual(status, 200, body)
        self.assertEqual([r["Name"] for r in json.loads(body)["Results"]], ["back/up"])
        self.client.wait_idle()
        status = self.client.status()
        self.assertEqual((status["failed-runs"], status["next-retry"]), (0, 0))
        self.assertTrue(status["last-success"])
        # The retries stop with success: nothing else is queued.
        self.assertEqual(status["pending-job"], 0)
        self.assertIn("Retrying all after 1 failed runs in a row", self.daemon.output())


if __name__ == "__main__":
    ritest.main()
